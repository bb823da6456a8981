"""Environments (docker | local), install plans, the installation oracle, repairs, batch installs."""
