//! zab's integration tests, one binary with modules (the machine has two cores: few test
//! binaries link faster than many).

mod differential;

mod admin;
mod apache_data;
mod cli_transcript;
mod server_control;

mod c_client;
mod clients;
mod web_view;
mod zkcli;
