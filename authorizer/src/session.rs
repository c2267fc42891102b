//! Whether a token still speaks for a member: the one rule, shared by the
//! service and the API Gateway authorizer, that ends sessions before their
//! `exp`.
//!
//! A token carries only `{email, role, iat, exp}`. It is honoured while its
//! member's record (`USER#<email>`) says the member is active, still has the
//! token's role, and has not ended their sessions since the token was issued
//! (`iat` ≥ the record's `tokens_not_before`, which a change of role or
//! state, "sign out everywhere" and a password reset move to the next
//! second). A token without a member record is honoured only for the
//! `service` role: the process's own identities and tokens issued by an
//! operator (`astro-service token issue`), which a secret rotation revokes.
//! A removed member's record stays (state REMOVED) so that their `service`
//! tokens stay refused too.

use astro_proto::v1::{MemberState, User};

use crate::{Claims, Role};

/// Why a verified token is no longer honoured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SessionEnded {
    #[error("no such member")]
    NotAMember,
    #[error("the member is deactivated")]
    Deactivated,
    #[error("the member was removed")]
    Removed,
    #[error("the member's role changed")]
    RoleChanged,
    #[error("the member's sessions were ended")]
    SignedOut,
}

/// A stored member's state: unset in records written before members had states.
pub fn state_of(user: &User) -> MemberState {
    match MemberState::try_from(user.state) {
        Ok(MemberState::Unspecified) | Err(_) => MemberState::Active,
        Ok(state) => state,
    }
}

/// Whether `claims` (of a verified token) may act for `member`, the record
/// stored under the token's email, if any.
pub fn check(claims: &Claims, member: Option<&User>) -> Result<(), SessionEnded> {
    let Some(member) = member else {
        return match claims.role {
            Role::Service => Ok(()),
            _ => Err(SessionEnded::NotAMember),
        };
    };
    match state_of(member) {
        MemberState::Active => {}
        MemberState::Deactivated => return Err(SessionEnded::Deactivated),
        MemberState::Removed | MemberState::Unspecified => return Err(SessionEnded::Removed),
    }
    if member.role != claims.role.claim() {
        return Err(SessionEnded::RoleChanged);
    }
    if claims.iat < member.tokens_not_before {
        return Err(SessionEnded::SignedOut);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(role: Role, iat: i64) -> Claims {
        Claims { email: "ada@example.com".into(), role, iat, exp: iat + 86_400 }
    }

    fn member(role: &str, state: MemberState, not_before: i64) -> User {
        User {
            email: "ada@example.com".into(),
            role: role.into(),
            state: state as i32,
            tokens_not_before: not_before,
            ..Default::default()
        }
    }

    #[test]
    fn an_active_member_with_the_tokens_role_is_honoured() {
        assert_eq!(check(&claims(Role::Sales, 100), Some(&member("sales", MemberState::Active, 100))), Ok(()));
        // Records from before member states are active.
        assert_eq!(check(&claims(Role::Admin, 5), Some(&member("admin", MemberState::Unspecified, 0))), Ok(()));
    }

    #[test]
    fn deactivated_removed_changed_and_signed_out_members_are_not() {
        let c = claims(Role::Sales, 100);
        assert_eq!(check(&c, Some(&member("sales", MemberState::Deactivated, 0))), Err(SessionEnded::Deactivated));
        assert_eq!(check(&c, Some(&member("sales", MemberState::Removed, 0))), Err(SessionEnded::Removed));
        assert_eq!(check(&c, Some(&member("viewer", MemberState::Active, 0))), Err(SessionEnded::RoleChanged));
        assert_eq!(check(&c, Some(&member("sales", MemberState::Active, 101))), Err(SessionEnded::SignedOut));
    }

    #[test]
    fn only_service_tokens_stand_without_a_member() {
        assert_eq!(check(&claims(Role::Service, 1), None), Ok(()));
        for role in [Role::Admin, Role::Sales, Role::Viewer] {
            assert_eq!(check(&claims(role, 1), None), Err(SessionEnded::NotAMember));
        }
        let removed = member("service", MemberState::Removed, 0);
        assert_eq!(check(&claims(Role::Service, 1), Some(&removed)), Err(SessionEnded::Removed));
    }
}
