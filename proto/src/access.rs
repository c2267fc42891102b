//! Who may call what, generated from the `astro.access.v1.rule` option on
//! every RPC of the contract (see `proto/astro/access/v1/options.proto`).
//!
//! [`METHODS`] is the one permission table: the service enforces it on every
//! method and transport, the local edge checks it before forwarding, and the
//! API Gateway authorizer turns a role's rows into its policy. A method
//! missing from it is refused to everyone.

/// Messages and enums of package `astro.access.v1`.
#[allow(clippy::all, clippy::pedantic)]
pub mod v1 {
    tonic::include_proto!("astro.access.v1");
}

pub use v1::Role;

/// A REST route that does what a method does (`PATCH /prospects/{id}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpRoute {
    pub method: &'static str,
    /// With `{name}` for a path parameter.
    pub path: &'static str,
}

/// One RPC's rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MethodRule {
    /// `/package.Service/Method`, as on the wire.
    pub path: &'static str,
    /// Callable without a token.
    pub public: bool,
    /// The roles allowed (empty when public).
    pub roles: &'static [Role],
    pub http: &'static [HttpRoute],
}

impl MethodRule {
    pub fn allows(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

include!(concat!(env!("OUT_DIR"), "/astro_access.rs"));

/// The rule of a gRPC method, by its path (`/astro.v1.ProspectService/GetProspect`).
pub fn rule(path: &str) -> Option<&'static MethodRule> {
    METHODS.iter().find(|m| m.path == path)
}

/// The rule of the method a REST route does (`GET`, `/prospects/{id}`).
pub fn rest_rule(method: &str, route: &str) -> Option<&'static MethodRule> {
    METHODS.iter().find(|m| m.http.iter().any(|h| h.method == method && h.path == route))
}

impl Role {
    /// Every role, in the contract's order.
    pub const ALL: [Role; 4] = [Role::Admin, Role::Sales, Role::Viewer, Role::Service];

    /// The token's `role` claim: the value's name, lower-cased, without its prefix.
    pub fn claim(self) -> &'static str {
        match self {
            Role::Unspecified => "",
            Role::Admin => "admin",
            Role::Sales => "sales",
            Role::Viewer => "viewer",
            Role::Service => "service",
        }
    }

    pub fn from_claim(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.claim() == text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rpc_of_the_contract_has_a_rule() {
        use prost::Message as _;
        let set = prost_types::FileDescriptorSet::decode(crate::FILE_DESCRIPTOR_SET).unwrap();
        let mut paths: Vec<String> = set
            .file
            .iter()
            .filter(|f| f.package() == "astro.v1")
            .flat_map(|f| f.service.iter().map(move |s| (f.package(), s)))
            .flat_map(|(package, s)| s.method.iter().map(move |m| format!("/{package}.{}/{}", s.name(), m.name())))
            .collect();
        paths.sort();
        let table: Vec<&str> = METHODS.iter().map(|m| m.path).collect();
        assert_eq!(table, paths);
        assert!(METHODS.iter().all(|m| m.public == m.roles.is_empty()));
    }

    #[test]
    fn the_table_says_what_the_contract_declares() {
        let login = rule("/astro.v1.AuthService/Login").unwrap();
        assert!(login.public);
        assert_eq!(login.http, [HttpRoute { method: "POST", path: "/auth/login" }]);
        let list = rule("/astro.v1.ProspectService/ListProspects").unwrap();
        assert_eq!(list.roles, [Role::Admin, Role::Sales, Role::Viewer]);
        assert!(!list.allows(Role::Service));
        let update = rest_rule("PATCH", "/prospects/{id}").unwrap();
        assert_eq!(update.path, "/astro.v1.ProspectService/UpdateProspect");
        assert!(!update.allows(Role::Viewer) && update.allows(Role::Sales));
        assert_eq!(rule("/astro.v1.MemberService/UpdateMember").unwrap().roles, [Role::Admin]);
        assert_eq!(rule("/astro.v1.ProspectService/Nothing"), None);
    }

    #[test]
    fn claims_are_the_lower_cased_names() {
        for role in Role::ALL {
            let name = role.as_str_name().trim_start_matches("ROLE_").to_ascii_lowercase();
            assert_eq!(role.claim(), name);
            assert_eq!(Role::from_claim(&name), Some(role));
        }
        assert_eq!(Role::from_claim("root"), None);
        assert_eq!(Role::from_claim(""), None);
    }
}
