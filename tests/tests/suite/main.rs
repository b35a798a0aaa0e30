//! One integration-test binary (links once): the event-store conformance suite run unchanged
//! against PostgreSQL and SQLite, and the end-to-end tests of the `diario` server.

mod api_access_log;
mod api_authorisation;
mod api_cli;
mod api_contract;
mod api_documents;
mod api_dossier;
mod api_letter;
mod api_one_hour;
mod api_plans;
mod api_protocol;
mod api_rates;
mod api_reads;
mod api_refusals;
mod api_reliability;
mod api_samples;
mod api_scenario;
mod api_seal;
mod api_vouchers;
mod crash;
mod demo;
mod firmalom_e2e;
mod firmalom_outbox;
mod oidc;
mod operations;
mod people;
mod projections;
mod server;
mod store_conformance;
mod web_login;
