"""The `dl101` command line: click wiring only; the work lives in importable modules."""

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="dl101")
def main() -> None:
    """Autograded assignments and quizzes for Deep Learning 101 (CNN week)."""
