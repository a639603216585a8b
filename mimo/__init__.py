"""Process-level pieces shared by every Mimo process: settings, tokens, logging and the CLI."""
