"""The configuration: config.toml's model, its keys, reading, validation and writing.

The TOML keys are Spanish because technicians edit the file by hand; the Python attributes
are English (docs/architecture.md). One module per job:

- `model`       Account, SmtpSettings, OAuthSettings, General, Config
- `fields`      every key once (FieldSpec tables): the parser, `validar`, the form and
                config.toml.example follow it
- `problems`    a located problem (file, key, line) and ConfigProblems
- `reading`     TOML text into a Config, hardened against hostile input
- `validation`  rules between fields, accounts and the environment
- `writing`     saving with tomlkit, keeping the technician's comments and keys; one account
                is saved as a merge of the keys the form edited
- `snapshot`    what the form loaded, and which keys changed on disk since
- `nit`         the NIT as written on the RUT, and DIAN's check digit
- `dates`       DD/MM/AAAA and AAAA-MM-DD dates, and whether one is already past
- `location`    where config.toml lives
- `toml_lines`  the line of each key, for the problems

This package re-exports the names the rest of the program imports from `tui_recepcion.config`.
"""

from __future__ import annotations

from tui_recepcion.config.dates import format_date, is_past, parse_date, today_in
from tui_recepcion.config.fields import (
    ACCOUNT_FIELDS,
    AUTH_TYPES,
    EARLIEST_DATE,
    EMPRESA_FIELDS,
    FIELDS_BY_KEY,
    GENERAL_FIELDS,
    LATEST_DATE,
    OAUTH_FIELDS,
    PROTOCOLS,
    SECURITIES,
    SMTP_FIELDS,
    Converter,
    FieldSpec,
    is_valid_account_id,
    is_valid_email,
    is_valid_host,
)
from tui_recepcion.config.location import APP_NAME, CONFIG_ENV_VAR, default_config_path, resolve_config_path
from tui_recepcion.config.model import DEFAULT_TIMEZONE, Account, Company, Config, General, OAuthSettings, SmtpSettings
from tui_recepcion.config.nit import NitError, ParsedNit, check_digit, format_nit, parse_nit
from tui_recepcion.config.problems import ConfigProblems, KeyProblem, Problem, key_name, printable
from tui_recepcion.config.reading import (
    MAX_CONFIG_BYTES,
    load_config,
    load_config_or_empty,
    parse_account,
    parse_config,
    read_config_text,
    validate_config,
)
from tui_recepcion.config.snapshot import (
    AccountExists,
    ConfigChangedOnDisk,
    ConfigSnapshot,
    take_snapshot,
    unused_account_id,
)
from tui_recepcion.config.validation import SMTP_ROUTE_MISSING, duplicate_mailbox_problems, smtp_route_problem
from tui_recepcion.config.writing import SavedAccount, account_to_toml, config_to_toml, save_account, write_config

__all__ = [
    "ACCOUNT_FIELDS",
    "APP_NAME",
    "AUTH_TYPES",
    "CONFIG_ENV_VAR",
    "DEFAULT_TIMEZONE",
    "EARLIEST_DATE",
    "EMPRESA_FIELDS",
    "FIELDS_BY_KEY",
    "GENERAL_FIELDS",
    "LATEST_DATE",
    "MAX_CONFIG_BYTES",
    "OAUTH_FIELDS",
    "PROTOCOLS",
    "SECURITIES",
    "SMTP_FIELDS",
    "SMTP_ROUTE_MISSING",
    "Account",
    "AccountExists",
    "Company",
    "Config",
    "ConfigChangedOnDisk",
    "ConfigProblems",
    "ConfigSnapshot",
    "Converter",
    "FieldSpec",
    "General",
    "KeyProblem",
    "NitError",
    "OAuthSettings",
    "ParsedNit",
    "Problem",
    "SavedAccount",
    "SmtpSettings",
    "account_to_toml",
    "check_digit",
    "config_to_toml",
    "default_config_path",
    "duplicate_mailbox_problems",
    "format_date",
    "format_nit",
    "is_past",
    "is_valid_account_id",
    "is_valid_email",
    "is_valid_host",
    "key_name",
    "load_config",
    "load_config_or_empty",
    "parse_account",
    "parse_config",
    "parse_date",
    "parse_nit",
    "printable",
    "read_config_text",
    "resolve_config_path",
    "save_account",
    "smtp_route_problem",
    "take_snapshot",
    "today_in",
    "unused_account_id",
    "validate_config",
    "write_config",
]
