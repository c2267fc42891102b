//! Who may call which gRPC method: the contract's permission table
//! (`astro_proto::access`, generated from the `astro.access.v1.rule`
//! options), plus the two standard services that are not in the contract.

use astro_proto::access::{self, MethodRule};

use crate::Role;

/// Who may call a gRPC method, by its path (`/package.Service/Method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No token needed (sign-in, health).
    Public,
    /// A valid token whose role is listed.
    Roles(&'static [Role]),
    /// Not served here: reflection at the edge (native gRPC only), and any
    /// method the contract does not declare.
    Closed,
}

impl From<&MethodRule> for Access {
    fn from(rule: &MethodRule) -> Self {
        match rule.public {
            true => Access::Public,
            false => Access::Roles(rule.roles),
        }
    }
}

/// At the edge: the contract's methods by their rules, health public,
/// everything else (reflection included) closed.
pub fn grpc_method(path: &str) -> Access {
    match access::rule(path) {
        Some(rule) => rule.into(),
        None if path.starts_with("/grpc.health.v1.Health/") => Access::Public,
        None => Access::Closed,
    }
}

/// The REST twin of a method (`"GET"`, `"/prospects/{id}"` as routed): who may call it.
pub fn rest_route(method: &str, route: &str) -> Access {
    access::rest_rule(method, route).map_or(Access::Closed, Access::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_edge_reads_the_contracts_table() {
        assert_eq!(grpc_method("/astro.v1.AuthService/Login"), Access::Public);
        assert_eq!(grpc_method("/grpc.health.v1.Health/Check"), Access::Public);
        assert_eq!(
            grpc_method("/astro.v1.ProspectService/CreateProspect"),
            Access::Roles(&[Role::Admin, Role::Sales, Role::Service])
        );
        assert_eq!(
            grpc_method("/astro.v1.ProspectService/ListProspects"),
            Access::Roles(&[Role::Admin, Role::Sales, Role::Viewer])
        );
        assert_eq!(grpc_method("/astro.v1.ProspectService/Undeclared"), Access::Closed);
        assert_eq!(grpc_method("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"), Access::Closed);
        assert_eq!(rest_route("DELETE", "/prospects/{id}"), Access::Roles(&[Role::Admin, Role::Sales]));
        assert_eq!(rest_route("DELETE", "/prospects"), Access::Closed);
    }
}
