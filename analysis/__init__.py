"""Analysis runs: pure analysis packages (``codesim``, ...) and their Django glue."""
