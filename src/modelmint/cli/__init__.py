"""The `modelmint` command line: argument parsing and printing only."""
