"""Companies and users: identified by keys (name -> value), described by typed traits."""

from tortoise import fields

from domain import ids
from domain.base import TimestampedModel, environment_fk

ENTITY_TYPES = ("company", "user")
TRAIT_TYPES = ("string", "number", "boolean", "date", "url", "currency")


class Company(TimestampedModel):
    id = fields.CharField(primary_key=True, max_length=40, default=ids.new_company_id)
    environment = environment_fk()
    name = fields.CharField(max_length=500, default="")
    logo_url = fields.CharField(max_length=1000, null=True)
    last_seen_at = fields.DatetimeField(null=True)
    # Anchor of billing-cycle usage windows; set by a subscription (billing), else calendar months.
    billing_period_start = fields.DatetimeField(null=True)
    billing_period_end = fields.DatetimeField(null=True)

    class Meta:
        table = "company"
        indexes = (("environment_id", "name"),)


class User(TimestampedModel):
    id = fields.CharField(primary_key=True, max_length=40, default=ids.new_user_id)
    environment = environment_fk()
    name = fields.CharField(max_length=500, default="")
    last_seen_at = fields.DatetimeField(null=True)

    class Meta:
        table = "user"
        indexes = (("environment_id", "name"),)


class CompanyKey(TimestampedModel):
    id = fields.CharField(primary_key=True, max_length=40, default=ids.new_company_key_id)
    environment = environment_fk()
    company: fields.ForeignKeyRelation[Company] = fields.ForeignKeyField(
        "models.Company", related_name="keys", on_delete=fields.CASCADE
    )
    key = fields.CharField(max_length=200)
    value = fields.CharField(max_length=500)

    class Meta:
        table = "company_key"
        unique_together = (("environment", "key", "value"), ("company", "key"))


class UserKey(TimestampedModel):
    id = fields.CharField(primary_key=True, max_length=40, default=ids.new_user_key_id)
    environment = environment_fk()
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="keys", on_delete=fields.CASCADE
    )
    key = fields.CharField(max_length=200)
    value = fields.CharField(max_length=500)

    class Meta:
        table = "user_key"
        unique_together = (("environment", "key", "value"), ("user", "key"))


class TraitDefinition(TimestampedModel):
    """The name and type of a trait. Created explicitly, or on first sight typed from the JSON value."""

    id = fields.CharField(primary_key=True, max_length=40, default=ids.new_trait_definition_id)
    environment = environment_fk()
    entity_type = fields.CharField(max_length=10)
    name = fields.CharField(max_length=200)
    trait_type = fields.CharField(max_length=10)
    display_name = fields.CharField(max_length=200, default="")

    class Meta:
        table = "trait_definition"
        unique_together = (("environment", "entity_type", "name"),)


class TraitValueFields(TimestampedModel):
    """One typed column per trait type, exactly one is set, chosen by the type of the definition.
    Numbers live in a BIGINT so `incr` is an atomic F() update."""

    environment = environment_fk()
    definition: fields.ForeignKeyRelation[TraitDefinition] = fields.ForeignKeyField(
        "models.TraitDefinition", related_name=False, on_delete=fields.CASCADE
    )
    value_text = fields.TextField(null=True)
    value_number = fields.BigIntField(null=True)
    value_bool = fields.BooleanField(null=True)
    value_date = fields.DatetimeField(null=True)

    class Meta:
        abstract = True


class CompanyTrait(TraitValueFields):
    id = fields.CharField(primary_key=True, max_length=40, default=ids.new_company_trait_id)
    company: fields.ForeignKeyRelation[Company] = fields.ForeignKeyField(
        "models.Company", related_name="trait_values", on_delete=fields.CASCADE
    )

    class Meta:
        table = "company_trait"
        unique_together = (("company", "definition"),)


class UserTrait(TraitValueFields):
    id = fields.CharField(primary_key=True, max_length=40, default=ids.new_user_trait_id)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="trait_values", on_delete=fields.CASCADE
    )

    class Meta:
        table = "user_trait"
        unique_together = (("user", "definition"),)


class CompanyMembership(TimestampedModel):
    id = fields.CharField(primary_key=True, max_length=40, default=ids.new_membership_id)
    environment = environment_fk()
    company: fields.ForeignKeyRelation[Company] = fields.ForeignKeyField(
        "models.Company", related_name="memberships", on_delete=fields.CASCADE
    )
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="memberships", on_delete=fields.CASCADE
    )

    class Meta:
        table = "company_membership"
        unique_together = (("company", "user"),)
