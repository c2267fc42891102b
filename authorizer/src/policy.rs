//! Who may call which gRPC method: one table for the service's own checks
//! and the local edge's. (The API Gateway authorizer gives the same service
//! identity the REST twin of `CreateProspect`, `POST /prospects`, only.)

use crate::Role;

/// Reading, moving, editing, deleting prospects.
pub const ADMINS: &[Role] = &[Role::Admin];

/// Creating a prospect: admins, and the public form's service identity.
pub const PROSPECT_CREATORS: &[Role] = &[Role::Admin, Role::Service];

/// Who may call a gRPC method, by its path (`/package.Service/Method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No token needed (sign-in, health).
    Public,
    /// A valid token whose role is listed.
    Roles(&'static [Role]),
    /// Not served at the edge (reflection: native gRPC only).
    Closed,
}

pub fn grpc_method(path: &str) -> Access {
    match path.trim_start_matches('/').split_once('/') {
        Some(("astro.v1.AuthService" | "grpc.health.v1.Health", _)) => Access::Public,
        Some(("astro.v1.ProspectService", "CreateProspect")) => Access::Roles(PROSPECT_CREATORS),
        Some(("astro.v1.ProspectService", _)) => Access::Roles(ADMINS),
        _ => Access::Closed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_create_is_open_to_the_service_identity() {
        assert_eq!(grpc_method("/astro.v1.AuthService/Login"), Access::Public);
        assert_eq!(grpc_method("/grpc.health.v1.Health/Check"), Access::Public);
        assert_eq!(grpc_method("/astro.v1.ProspectService/CreateProspect"), Access::Roles(PROSPECT_CREATORS));
        assert_eq!(grpc_method("/astro.v1.ProspectService/ListProspects"), Access::Roles(ADMINS));
        assert_eq!(grpc_method("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"), Access::Closed);
    }
}
