//! The team: who is a member, with which role, and whether their sessions
//! still stand.
//!
//! Sessions end before their tokens expire through the member's record
//! (`astro_authorizer::session`): a change of role or state and "sign out
//! everywhere" move `tokens_not_before` past every token issued so far. The
//! service checks the record on every call; it keeps what it read for
//! [`SESSION_FRESH`] and applies its own changes at once, so a change made
//! through this instance takes effect on its next call, and one made
//! through another instance (or the command line) within that second.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use astro_authorizer::{Claims, Role, session, unix_now};
use astro_proto::v1::{
    ListMembersRequest, ListMembersResponse, Member, MemberState, SecurityEventKind, TeamSettings, User,
};

use super::{
    DomainError, DomainResult, now,
    page_token::{PagePosition, page_size},
    security_log::{Entry, SecurityLog},
    validation::{self, Violations},
};
use crate::{
    keys::KeyRing,
    store::{MEMBER_PARTITION, Store, StoreError},
};

/// How long a member record read to check a session answers later checks.
pub const SESSION_FRESH: Duration = Duration::from_secs(1);

const DEFAULT_PAGE_SIZE: usize = 100;
const MAX_PAGE_SIZE: usize = 200;
pub const MAX_DISPLAY_NAME: usize = 100;

/// Fields `UpdateMember` may set.
const UPDATABLE: &[&str] = &["display_name", "role", "state", "away"];

/// The answer to a token whose session has ended: the same whatever the reason.
const SESSION_ENDED: &str = "your session has ended: sign in again";

type Remembered = Arc<Mutex<HashMap<String, (Instant, Option<User>)>>>;

/// The team's settings as last read (and when).
type ReadSettings = Arc<Mutex<Option<(Instant, TeamSettings)>>>;

/// How long the settings, once read, answer without another read (this
/// instance's own changes apply at once).
pub const SETTINGS_FRESH: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub struct Members {
    store: Arc<dyn Store>,
    keys: KeyRing,
    remembered: Remembered,
    settings: ReadSettings,
    log: SecurityLog,
}

/// The API's view of a stored member: never its secrets.
pub fn member_of(user: &User) -> Member {
    Member {
        email: user.email.clone(),
        display_name: user.display_name.clone(),
        role: Role::from_claim(&user.role).unwrap_or(Role::Unspecified) as i32,
        state: session::state_of(user) as i32,
        away: user.away,
        created_at: user.created_at,
        updated_at: user.updated_at,
        version: user.version,
        two_factor_enabled: !user.totp_secret_sealed.is_empty(),
    }
}

fn invalid(field: &str, description: impl Into<String>) -> DomainError {
    DomainError::Invalid(vec![super::FieldViolation::new(field, description)])
}

fn is_active_admin(user: &User) -> bool {
    user.role == Role::Admin.claim() && session::state_of(user) == MemberState::Active
}

/// Refuses every token issued so far: those issued until now, and those
/// a sign-in in the same second already dated at the previous limit (see
/// `Accounts::verify_password`). New tokens are dated from the new limit.
pub fn end_sessions(user: &mut User) {
    user.tokens_not_before = unix_now().max(user.tokens_not_before) + 1;
}

impl Members {
    pub fn new(store: Arc<dyn Store>, keys: KeyRing) -> Self {
        Self {
            log: SecurityLog::new(store.clone(), keys.clone()),
            store,
            keys,
            remembered: Arc::default(),
            settings: Arc::default(),
        }
    }

    /// The security log.
    pub fn log(&self) -> &SecurityLog {
        &self.log
    }

    /// Whether the session of a verified token still stands.
    pub async fn admit(&self, claims: &Claims) -> DomainResult<()> {
        let member = self.record(&claims.email).await?;
        session::check(claims, member.as_ref()).map_err(|ended| {
            tracing::info!(target: "astro::security", event = "session_refused", account = %claims.email, reason = %ended);
            DomainError::Unauthenticated(SESSION_ENDED)
        })
    }

    /// The member's record, as read at most [`SESSION_FRESH`] ago.
    async fn record(&self, email: &str) -> DomainResult<Option<User>> {
        if let Some((at, user)) = self.remembered.lock().unwrap_or_else(|p| p.into_inner()).get(email)
            && at.elapsed() < SESSION_FRESH
        {
            return Ok(user.clone());
        }
        let user = self.store.get_user(email).await?;
        self.remember(email, user.clone());
        Ok(user)
    }

    /// What this instance wrote (or read), for the next session checks.
    pub fn remember(&self, email: &str, user: Option<User>) {
        let mut remembered = self.remembered.lock().unwrap_or_else(|p| p.into_inner());
        if remembered.len() > 10_000 {
            remembered.retain(|_, (at, _)| at.elapsed() < SESSION_FRESH);
        }
        remembered.insert(email.to_owned(), (Instant::now(), user));
    }

    pub async fn list(&self, request: ListMembersRequest) -> DomainResult<ListMembersResponse> {
        let size = page_size(request.page_size, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)?;
        const QUERY: &str = "members";
        let pages = self.keys.page_tokens();
        let after = pages.position(&request.page_token, QUERY)?.map(|p| p.id);
        let mut users = self.store.list_members(after, size + 1).await?;
        let next_page_token = match users.len() > size {
            true => {
                users.truncate(size);
                let last = users.last().map(|u| u.email.clone()).unwrap_or_default();
                pages.encode(&PagePosition { query: QUERY.into(), sort: String::new(), id: last })
            }
            false => String::new(),
        };
        Ok(ListMembersResponse { members: users.iter().map(member_of).collect(), next_page_token })
    }

    /// The stored member `email` at the version the caller saw.
    async fn current(&self, field: &str, email: &str, version: Option<i64>) -> DomainResult<User> {
        let email = email.trim().to_lowercase();
        if email.is_empty() {
            return Err(invalid(field, "is required"));
        }
        let user = self
            .store
            .get_user(&email)
            .await?
            .filter(|u| session::state_of(u) != MemberState::Removed)
            .ok_or_else(|| DomainError::NotFound(format!("member {email}")))?;
        if let Some(version) = version.filter(|v| *v != user.version) {
            return Err(StoreError::stale("member", &email, user.version, version).into());
        }
        Ok(user)
    }

    /// Another active admin than `user`, as read: the one whose staying
    /// unchanged the write is conditioned on. `None` when there is none.
    async fn other_active_admin(&self, user: &User) -> DomainResult<Option<User>> {
        let mut after = None;
        loop {
            let page = self.store.list_members(after, MAX_PAGE_SIZE).await?;
            if let Some(admin) = page.iter().find(|u| u.email != user.email && is_active_admin(u)) {
                return Ok(Some(admin.clone()));
            }
            match page.len() < MAX_PAGE_SIZE {
                true => return Ok(None),
                false => after = page.last().map(|u| u.email.clone()),
            }
        }
    }

    /// Writes a changed member. When the change takes an active admin away,
    /// it is conditioned on another active admin staying as read: the last
    /// one cannot go, even by two admins demoting each other at once.
    async fn save(&self, before: &User, mut after: User) -> DomainResult<User> {
        let keep = match is_active_admin(before) && !is_active_admin(&after) {
            true => Some(self.other_active_admin(before).await?.ok_or_else(|| {
                DomainError::FailedPrecondition(format!(
                    "{} is the last active admin: make another member admin first",
                    before.email
                ))
            })?),
            false => None,
        };
        after.version = before.version + 1;
        after.updated_at = Some(now());
        self.store.save_user(&after, before.version, keep.as_ref()).await?;
        self.remember(&after.email, Some(after.clone()));
        Ok(after)
    }

    /// Changes the fields named in `paths` (see `UpdateMember`).
    pub async fn update(&self, caller: &Claims, input: Member, paths: &[String]) -> DomainResult<Member> {
        let mut v = Violations::default();
        if paths.is_empty() {
            v.add("update_mask", "must name at least one field");
        }
        for path in paths {
            if !UPDATABLE.contains(&path.as_str()) {
                v.add("update_mask", format!("{path:?} cannot be updated; updatable: {}", UPDATABLE.join(", ")));
            }
        }
        if input.version <= 0 {
            v.add("member.version", "is required: the version you last read");
        }
        let set = |name: &str| paths.iter().any(|p| p == name);
        let display_name =
            validation::text(&mut v, "member.display_name", &input.display_name, false, MAX_DISPLAY_NAME, false);
        let role = Role::try_from(input.role).ok().filter(|r| *r != Role::Unspecified);
        if set("role") && role.is_none() {
            v.add("member.role", "must be ROLE_ADMIN, ROLE_SALES, ROLE_VIEWER or ROLE_SERVICE");
        }
        let state = MemberState::try_from(input.state).ok();
        if set("state") && !matches!(state, Some(MemberState::Active | MemberState::Deactivated)) {
            v.add("member.state", "must be MEMBER_STATE_ACTIVE or MEMBER_STATE_DEACTIVATED");
        }
        if !v.is_empty() {
            return Err(DomainError::Invalid(v.0));
        }
        let before = self.current("member.email", &input.email, Some(input.version)).await?;
        let mut after = before.clone();
        if set("display_name") {
            after.display_name = display_name;
        }
        if set("away") {
            after.away = input.away;
        }
        if let Some(role) = role.filter(|_| set("role")) {
            after.role = role.claim().to_owned();
        }
        if let Some(state) = state.filter(|_| set("state")) {
            after.state = state as i32;
        }
        if after == before {
            return Ok(member_of(&before));
        }
        if after.role != before.role || after.state != before.state {
            end_sessions(&mut after);
        }
        let saved = self.save(&before, after).await?;
        let mut detail = Vec::new();
        if saved.role != before.role {
            detail.push(format!("role: {} → {}", before.role, saved.role));
        }
        let (was, is) = (session::state_of(&before), session::state_of(&saved));
        if was != is {
            detail.push(format!("state: {} → {}", short(was.as_str_name()), short(is.as_str_name())));
        }
        if saved.away != before.away {
            detail.push(format!("away: {}", saved.away));
        }
        if saved.display_name != before.display_name {
            detail.push(format!("name: {}", saved.display_name));
        }
        let entry = Entry {
            actor: caller.email.clone(),
            subject: saved.email.clone(),
            detail: detail.join("; "),
            ..Entry::default()
        };
        self.log.record(SecurityEventKind::MemberChanged, entry).await;
        Ok(member_of(&saved))
    }

    /// Removes a member: their record stays as REMOVED (out of the team's
    /// listing, no password), so that every token they hold stays refused.
    pub async fn delete(&self, caller: &Claims, email: &str, version: i64) -> DomainResult<()> {
        let before = self.current("email", email, (version != 0).then_some(version)).await?;
        let mut after = before.clone();
        after.state = MemberState::Removed as i32;
        after.password_hash = String::new();
        after.member_partition = String::new();
        end_sessions(&mut after);
        self.save(&before, after).await?;
        let entry = Entry { actor: caller.email.clone(), subject: before.email.clone(), ..Entry::default() };
        self.log.record(SecurityEventKind::MemberRemoved, entry).await;
        Ok(())
    }

    /// Ends every session of the caller.
    pub async fn sign_out_everywhere(&self, caller: &Claims) -> DomainResult<()> {
        let Some(before) = self.store.get_user(&caller.email).await? else {
            return Err(DomainError::FailedPrecondition(
                "this identity is not a member: rotate the token secret to revoke its tokens".into(),
            ));
        };
        let mut after = before.clone();
        end_sessions(&mut after);
        self.save(&before, after).await?;
        let entry = Entry { actor: caller.email.clone(), subject: caller.email.clone(), ..Entry::default() };
        self.log.record(SecurityEventKind::SignedOutEverywhere, entry).await;
        Ok(())
    }

    /// Turns a member's two-factor sign-in off (an admin's reset): the
    /// secret and the recovery codes are forgotten, the sessions end.
    pub async fn reset_two_factor(&self, caller: &Claims, email: &str) -> DomainResult<Member> {
        let before = self.current("email", email, None).await?;
        let mut after = before.clone();
        super::two_factor::forget(&mut after);
        end_sessions(&mut after);
        let saved = self.save(&before, after).await?;
        let entry = Entry {
            actor: caller.email.clone(),
            subject: before.email.clone(),
            detail: "reset by an admin".into(),
            ..Entry::default()
        };
        self.log.record(SecurityEventKind::TwoFactorDisabled, entry).await;
        Ok(member_of(&saved))
    }
}

impl Members {
    /// The team's settings (the defaults until first changed).
    pub async fn settings(&self) -> DomainResult<TeamSettings> {
        if let Some((at, settings)) = self.settings.lock().unwrap_or_else(|p| p.into_inner()).as_ref()
            && at.elapsed() < SETTINGS_FRESH
        {
            return Ok(settings.clone());
        }
        let settings = self.store.get_team_settings().await?.unwrap_or_default();
        *self.settings.lock().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), settings.clone()));
        Ok(settings)
    }

    /// Changes the settings named in `paths` (see `UpdateTeamSettings`).
    pub async fn update_settings(
        &self,
        caller: &Claims,
        input: TeamSettings,
        paths: &[String],
    ) -> DomainResult<TeamSettings> {
        const SETTABLE: &[&str] = &[
            "auto_assign",
            "require_two_factor",
            "first_contact_minutes",
            "business_hours",
            "stale_after",
            "retention",
        ];
        let mut v = Violations::default();
        if paths.is_empty() {
            v.add("update_mask", format!("name the settings to change, among: {}", SETTABLE.join(", ")));
        }
        for path in paths.iter().filter(|p| !SETTABLE.contains(&p.as_str())) {
            v.add("update_mask", format!("{path:?} cannot be set; settable: {}", SETTABLE.join(", ")));
        }
        if input.version < 0 {
            v.add("settings.version", "must not be negative");
        }
        if !v.is_empty() {
            return Err(DomainError::Invalid(v.0));
        }
        let stored = self.store.get_team_settings().await?.unwrap_or_default();
        if stored.version != input.version {
            return Err(StoreError::stale("team settings", "TEAM", stored.version, input.version).into());
        }
        let set = |name: &str| paths.iter().any(|p| p == name);
        let mut next = TeamSettings {
            auto_assign: if set("auto_assign") { input.auto_assign } else { stored.auto_assign },
            require_two_factor: if set("require_two_factor") {
                input.require_two_factor
            } else {
                stored.require_two_factor
            },
            first_contact_minutes: if set("first_contact_minutes") {
                input.first_contact_minutes
            } else {
                stored.first_contact_minutes
            },
            business_hours: if set("business_hours") { input.business_hours } else { stored.business_hours.clone() },
            stale_after: if set("stale_after") { input.stale_after } else { stored.stale_after.clone() },
            retention: if set("retention") { input.retention } else { stored.retention.clone() },
            version: stored.version + 1,
            updated_by: caller.email.clone(),
            updated_at: Some(now()),
        };
        let mut v = Violations::default();
        super::deadline::check(&mut v, &mut next);
        if !v.is_empty() {
            return Err(DomainError::Invalid(v.0));
        }
        self.store.save_team_settings(&next, stored.version).await?;
        *self.settings.lock().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), next.clone()));
        let detail = paths
            .iter()
            .map(|p| match p.as_str() {
                "auto_assign" => format!("auto_assign: {}", next.auto_assign),
                "require_two_factor" => format!("require_two_factor: {}", next.require_two_factor),
                "first_contact_minutes" => format!("first_contact_minutes: {}", next.first_contact_minutes),
                other => format!("{other} changed"),
            })
            .collect::<Vec<_>>()
            .join(", ");
        self.log
            .record(
                SecurityEventKind::SettingsChanged,
                Entry { actor: caller.email.clone(), detail, ..Entry::default() },
            )
            .await;
        Ok(next)
    }

    /// The owner of a new card when the team assigns automatically: the
    /// next active salesperson not away, in turn (by email), by the number
    /// the table's counter gives this assignment — fair across instances.
    /// `None` when assignment is off or nobody can take it.
    pub async fn assign(&self) -> DomainResult<Option<String>> {
        if !self.settings().await?.auto_assign {
            return Ok(None);
        }
        let mut eligible = Vec::new();
        let mut after = None;
        loop {
            let page = self.store.list_members(after, MAX_PAGE_SIZE).await?;
            let full = page.len() == MAX_PAGE_SIZE;
            after = page.last().map(|u| u.email.clone());
            eligible.extend(
                page.into_iter().filter(|u| {
                    u.role == Role::Sales.claim() && session::state_of(u) == MemberState::Active && !u.away
                }),
            );
            if !full {
                break;
            }
        }
        if eligible.is_empty() {
            return Ok(None);
        }
        let turn = self.store.next_assignment().await?;
        let index = (turn - 1).rem_euclid(eligible.len() as i64) as usize;
        Ok(Some(eligible.swap_remove(index).email))
    }
}

/// `MEMBER_STATE_ACTIVE` → `active`.
fn short(name: &str) -> String {
    name.trim_start_matches("MEMBER_STATE_").to_lowercase()
}

/// A new member's record (version 1, listed in the team).
pub fn new_member(email: String, password_hash: String, role: Role, display_name: String) -> User {
    let at = now();
    User {
        email,
        password_hash,
        role: role.claim().to_owned(),
        created_at: Some(at),
        display_name,
        state: MemberState::Active as i32,
        away: false,
        tokens_not_before: 0,
        version: 1,
        updated_at: Some(at),
        member_partition: MEMBER_PARTITION.to_owned(),
        ..User::default()
    }
}
