//! What the edge tells the service about a caller: the client's address and
//! transport, in request metadata that counts only when the call also
//! carries the edge's own identity (a token signed with the service's keys
//! for [`EDGE_EMAIL`]). From anyone else those headers change nothing: the
//! client is the socket's peer.

use std::net::{IpAddr, SocketAddr};

use astro_authorizer::Role;
use tonic::metadata::MetadataMap;

use crate::{
    domain::sign_in::{Client, Transport},
    keys::KeyRing,
};

pub const CLIENT_ADDRESS: &str = "x-astro-client-address";
pub const CLIENT_TRANSPORT: &str = "x-astro-client-transport";
pub const IDENTITY: &str = "x-astro-edge-identity";
/// The edge's identity: role `service`, this subject.
pub const EDGE_EMAIL: &str = "edge@gateway.astro-qualif";

/// Whether a header is one of the edge's: the edge drops these from what
/// callers send before adding its own.
pub fn is_edge_header(name: &str) -> bool {
    name.starts_with("x-astro-")
}

/// The headers the edge adds to a call it makes for `address`.
pub fn headers(keys: &KeyRing, address: IpAddr, transport: Transport) -> Vec<(&'static str, String)> {
    let mut out = vec![(CLIENT_ADDRESS, address.to_string()), (CLIENT_TRANSPORT, transport.as_str().to_owned())];
    if let Ok(token) = keys.issuer().reusable(EDGE_EMAIL, Role::Service, astro_authorizer::unix_now()) {
        out.push((IDENTITY, token));
    }
    out
}

/// The client of a call: the edge's word for it when the call carries the
/// edge's identity, else the socket's peer.
pub fn client(keys: &KeyRing, metadata: &MetadataMap, peer: Option<SocketAddr>) -> Client {
    let text = |name: &str| metadata.get(name).and_then(|v| v.to_str().ok());
    let from_edge = text(IDENTITY)
        .and_then(|token| keys.verifier().verify(token).ok())
        .is_some_and(|claims| claims.email == EDGE_EMAIL && claims.role == Role::Service);
    if from_edge && let Some(address) = text(CLIENT_ADDRESS).and_then(|a| a.parse().ok()) {
        let transport = text(CLIENT_TRANSPORT).and_then(Transport::parse).unwrap_or(Transport::Grpc);
        return Client { address, transport };
    }
    let transport = match metadata.contains_key("x-grpc-web") {
        true => Transport::GrpcWeb,
        false => Transport::Grpc,
    };
    match peer {
        Some(peer) => Client { address: peer.ip(), transport },
        None => Client { transport, ..Client::UNKNOWN },
    }
}
