//! End-to-end tests of the `diario` server.
