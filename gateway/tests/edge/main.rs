//! The gateway end to end over HTTP, against the whole stack started in this
//! process (gateway + service + embedded store on free ports).

mod binary;
mod embedding;
mod grpc_web;
mod helpers;
mod lambda;
mod limits;
mod providers;
mod public_form;
mod rest_api;
mod secrets;
mod sign_in;
mod team;
