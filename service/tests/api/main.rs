//! The service's integration suite: one binary, a fresh server and data
//! directory per test, called over real gRPC (and gRPC-web, and grpcurl).

mod helpers;

mod auth;
mod background;
mod cli;
mod dump;
mod dynamodb;
mod export;
mod forms;
mod grpc_web;
mod grpcurl;
mod imports;
mod insights;
mod member_mail;
mod members;
mod notify;
mod persistence;
mod privacy;
mod prospects;
mod scoring;
mod secrets;
mod speed_to_lead;
mod store_contract;
mod two_factor;
mod validation;
mod watch;
