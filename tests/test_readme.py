from pathlib import Path

from domain.settings import Settings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_readme_starts_with_the_two_commands() -> None:
    head = README[:400]
    assert "make run" in head and "make test" in head


def test_readme_documents_every_setting() -> None:
    missing = [name for name in Settings.model_fields if f"PLANGATE_{name.upper()}" not in README]
    assert missing == [], f"README lacks PLANGATE_ settings: {missing}"
