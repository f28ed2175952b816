"""One module per `spire` subcommand: argument parsing and error mapping only."""
