"""The installation account and its development, staging and production environments."""

from tortoise import migrations
from tortoise.migrations import operations as ops

from domain.migrations._seed import create_defaults, remove_defaults


class Migration(migrations.Migration):
    dependencies = [("models", "0001_initial")]

    operations = [ops.RunPython(create_defaults, remove_defaults)]
