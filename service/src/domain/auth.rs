//! Signing in: bcrypt password checks off the async workers, token issuing,
//! the bootstrap admin and the token secret of the local default.

use std::{
    io::Write as _,
    path::Path,
    sync::{Arc, mpsc},
};

use astro_authorizer::{Claims, Role, TokenSecret, session, unix_now};
use astro_proto::v1::{MemberState, SecurityEventKind, User};
use tokio::sync::oneshot;

use super::{
    DomainError, DomainResult, FieldViolation,
    members::{MAX_DISPLAY_NAME, Members, end_sessions, new_member},
    now,
    security_log::{Entry, SecurityLog},
    validation,
};
use crate::{
    keys::KeyRing,
    store::{MEMBER_PARTITION, Store, StoreError},
};

/// bcrypt ignores bytes past 72: a longer password would be silently cut.
pub const MAX_PASSWORD_BYTES: usize = 72;
pub const MIN_PASSWORD_CHARS: usize = 12;

enum PasswordJob {
    Hash { password: String, cost: u32, reply: oneshot::Sender<Result<String, String>> },
    Verify { password: String, hash: String, reply: oneshot::Sender<bool> },
}

/// bcrypt on dedicated low-priority threads: a burst of logins queues here
/// and yields the CPU to request handling instead of stalling it.
#[derive(Clone)]
pub struct PasswordHasher {
    jobs: Arc<std::sync::Mutex<mpsc::Sender<PasswordJob>>>,
    cost: u32,
    /// Verified when the email is unknown, so that costs what a wrong
    /// password costs. Made on a thread of its own at start (a bcrypt hash
    /// is a fifth of a second at cost 12: the start does not wait for it).
    dummy_hash: Arc<std::sync::OnceLock<String>>,
}

const DUMMY_PASSWORD: &str = "astro-qualif timing equaliser";

impl PasswordHasher {
    pub fn new(cost: u32) -> Self {
        let (tx, rx) = mpsc::channel::<PasswordJob>();
        let rx = Arc::new(std::sync::Mutex::new(rx));
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get().div_ceil(2));
        for i in 0..workers {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("bcrypt-{i}"))
                .spawn(move || {
                    lower_this_thread_priority();
                    loop {
                        let job = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                        match job {
                            Ok(PasswordJob::Hash { password, cost, reply }) => {
                                let _ = reply.send(bcrypt::hash(password, cost).map_err(|e| e.to_string()));
                            }
                            Ok(PasswordJob::Verify { password, hash, reply }) => {
                                let _ = reply.send(bcrypt::verify(password, &hash).unwrap_or(false));
                            }
                            Err(_) => return,
                        }
                    }
                })
                .expect("spawn a bcrypt thread");
        }
        let dummy_hash = Arc::new(std::sync::OnceLock::new());
        let made = dummy_hash.clone();
        std::thread::Builder::new()
            .name("bcrypt-dummy".into())
            .spawn(move || {
                lower_this_thread_priority();
                if let Ok(hash) = bcrypt::hash(DUMMY_PASSWORD, cost) {
                    let _ = made.set(hash);
                }
            })
            .expect("spawn a bcrypt thread");
        Self { jobs: Arc::new(std::sync::Mutex::new(tx)), cost, dummy_hash }
    }

    fn submit(&self, job: PasswordJob) -> DomainResult<()> {
        self.jobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(job)
            .map_err(|_| DomainError::Internal("password threads stopped".into()))
    }

    pub async fn hash(&self, password: &str) -> DomainResult<String> {
        let (reply, answer) = oneshot::channel();
        self.submit(PasswordJob::Hash { password: password.to_owned(), cost: self.cost, reply })?;
        answer
            .await
            .map_err(|_| DomainError::Internal("password thread stopped".into()))?
            .map_err(DomainError::Internal)
    }

    /// Whether `password` matches `hash`; with no hash, checks a dummy one.
    pub async fn verify(&self, password: &str, hash: Option<&str>) -> DomainResult<bool> {
        let (reply, answer) = oneshot::channel();
        let known = hash.is_some();
        let hash = match (hash, self.dummy_hash.get().map(String::as_str)) {
            (Some(hash), _) | (None, Some(hash)) => hash.to_owned(),
            // Asked before the dummy was made: made now, as the thread would.
            (None, None) => {
                let made = self.hash(DUMMY_PASSWORD).await?;
                self.dummy_hash.get_or_init(|| made).clone()
            }
        };
        self.submit(PasswordJob::Verify { password: password.to_owned(), hash, reply })?;
        let matched = answer.await.map_err(|_| DomainError::Internal("password thread stopped".into()))?;
        Ok(known && matched)
    }
}

/// Nice 10: the scheduler gives request handling the CPU first.
fn lower_this_thread_priority() {
    // SAFETY: setpriority on the calling thread (tid from gettid) has no memory effects.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 10);
    }
}

/// Common passwords, most frequent first (see the file's head for where
/// they come from). A new password may not be one, nor one with only digits
/// or symbols added at its end, nor one said twice.
const COMMON_PASSWORDS: &str = include_str!("common-passwords.txt");

fn common_passwords() -> &'static std::collections::HashSet<&'static str> {
    static SET: std::sync::LazyLock<std::collections::HashSet<&'static str>> = std::sync::LazyLock::new(|| {
        COMMON_PASSWORDS.lines().filter(|l| !l.is_empty() && !l.starts_with('#')).collect()
    });
    &SET
}

/// Whether `password` is a common one, or a common one with digits or
/// symbols added at its end, or said twice ("dragon2026", "footballfootball").
pub fn is_common(password: &str) -> bool {
    let lower = password.to_lowercase();
    let list = common_passwords();
    let stem = lower.trim_end_matches(|c: char| !c.is_alphabetic());
    let half = lower.len() / 2;
    let repeated = lower.len().is_multiple_of(2) && lower.is_char_boundary(half) && lower[..half] == lower[half..];
    list.contains(lower.as_str())
        || (stem.chars().count() >= 4 && list.contains(stem))
        || (repeated && list.contains(&lower[..half]))
}

/// Checks a new password against the policy: 12 characters or more, at most
/// 72 bytes (bcrypt's limit), not a common password.
pub fn check_new_password(field: &str, password: &str) -> DomainResult<()> {
    let description = if password.chars().count() < MIN_PASSWORD_CHARS {
        format!("must be at least {MIN_PASSWORD_CHARS} characters")
    } else if password.len() > MAX_PASSWORD_BYTES {
        format!("must be at most {MAX_PASSWORD_BYTES} bytes")
    } else if is_common(password) {
        "is too common: it is on the lists attackers try first; choose a longer phrase of your own".to_owned()
    } else {
        return Ok(());
    };
    Err(DomainError::Invalid(vec![FieldViolation::new(field, description)]))
}

#[derive(Clone)]
pub struct Accounts {
    store: Arc<dyn Store>,
    passwords: PasswordHasher,
    keys: KeyRing,
    log: SecurityLog,
    /// Told of every member record written here, so that this instance's
    /// session checks see it at once.
    members: Option<Members>,
}

impl Accounts {
    pub fn new(store: Arc<dyn Store>, passwords: PasswordHasher, keys: KeyRing) -> Self {
        Self { log: SecurityLog::new(store.clone(), keys.clone()), store, passwords, keys, members: None }
    }

    /// Writes reach `members`' session checks at once.
    pub fn with_members(self, members: Members) -> Self {
        Self { members: Some(members), ..self }
    }

    fn written(&self, user: &User) {
        if let Some(members) = &self.members {
            members.remember(&user.email, Some(user.clone()));
        }
    }

    /// The signer of page tokens (and of sign-in tickets).
    pub fn page_tokens(&self) -> Arc<crate::domain::page_token::PageTokens> {
        self.keys.page_tokens()
    }

    /// The security log the sign-ins are written to.
    pub fn log(&self) -> &SecurityLog {
        &self.log
    }

    /// The account a sign-in names (its email lower-cased), once both fields
    /// are there; each missing or oversized one is named.
    pub fn sign_in_account(email: &str, password: &str) -> DomainResult<String> {
        let mut v = validation::Violations::default();
        let email = email.trim().to_lowercase();
        if email.is_empty() {
            v.add("email", "is required");
        }
        if password.is_empty() {
            v.add("password", "is required");
        } else if password.len() > MAX_PASSWORD_BYTES {
            v.add("password", format!("must be at most {MAX_PASSWORD_BYTES} bytes"));
        }
        match v.is_empty() {
            true => Ok(email),
            false => Err(DomainError::Invalid(v.0)),
        }
    }

    /// A token when `password` is the account's and the member is active
    /// (no second factor asked: invitations, which set the password now).
    pub async fn verify_password(&self, account: &str, password: &str) -> DomainResult<(String, Claims)> {
        let user = self.check_password(account, password).await?;
        self.issue(&user)
    }

    /// The member when `password` is the account's and they are active.
    /// Unknown emails, wrong passwords and members who may no longer sign in
    /// fail alike, after the same bcrypt work.
    pub async fn check_password(&self, account: &str, password: &str) -> DomainResult<User> {
        let user = self.store.get_user(account).await?;
        let role = user.as_ref().and_then(|u| Role::from_claim(&u.role));
        let matched = self.passwords.verify(password, user.as_ref().map(|u| u.password_hash.as_str())).await?;
        let (Some(user), Some(_), true) = (user, role, matched) else {
            return Err(DomainError::Unauthenticated("wrong email or password"));
        };
        if session::state_of(&user) != MemberState::Active {
            return Err(DomainError::Unauthenticated("wrong email or password"));
        }
        if user.member_partition.is_empty() {
            return Ok(self.backfill(user.clone()).await.unwrap_or(user));
        }
        Ok(user)
    }

    /// A token for the member.
    pub fn issue(&self, user: &User) -> DomainResult<(String, Claims)> {
        let role =
            Role::from_claim(&user.role).ok_or_else(|| DomainError::Internal(format!("role {:?}", user.role)))?;
        // Never before the sessions' restart: a sign-in in the very second
        // of "sign out everywhere" still gets a token that is honoured.
        let issued = unix_now().max(user.tokens_not_before);
        self.keys.issuer().issue(&user.email, role, issued).map_err(|e| DomainError::Internal(e.to_string()))
    }

    /// The store (the outbox of the emails written with a member's change).
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Sets a new password through a reset link: `check` decides, on the
    /// record as read, whether the link still holds; the write clears the
    /// link and ends every session, conditioned on that read (of two uses
    /// of one link, one wins).
    pub async fn reset_password_by_link(
        &self,
        email: &str,
        password: &str,
        check: impl Fn(&User) -> DomainResult<()>,
    ) -> DomainResult<User> {
        check_new_password("new_password", password)?;
        let hash = self.passwords.hash(password).await?;
        let before = self
            .store
            .get_user(email)
            .await?
            .filter(|u| session::state_of(u) == MemberState::Active)
            .ok_or_else(|| DomainError::FailedPrecondition(super::password_reset::USED.into()))?;
        check(&before)?;
        let mut after = User {
            password_hash: hash,
            password_reset_hash: String::new(),
            password_reset_expires: 0,
            ..before.clone()
        };
        end_sessions(&mut after);
        let after = self.save(&before, after).await.map_err(|e| match e {
            DomainError::Conflict(_) => DomainError::FailedPrecondition(super::password_reset::USED.into()),
            other => other,
        })?;
        let entry = Entry {
            actor: email.to_owned(),
            subject: email.to_owned(),
            detail: "by email link".into(),
            ..Entry::default()
        };
        self.log.record(SecurityEventKind::PasswordReset, entry).await;
        Ok(after)
    }

    /// The member's stored record, removed or not.
    pub async fn get(&self, email: &str) -> DomainResult<Option<User>> {
        Ok(self.store.get_user(email).await?)
    }

    /// Writes the member's record changed from `before` (a newer version:
    /// a write from a stale read is refused with `Conflict`).
    pub async fn save(&self, before: &User, mut after: User) -> DomainResult<User> {
        after.version = before.version + 1;
        after.updated_at = Some(now());
        self.store.save_user(&after, before.version, None).await?;
        self.written(&after);
        Ok(after)
    }

    /// Records written before the team existed gain what a member has (a
    /// place in `MemberIndex`, a version) at their first sign-in.
    async fn backfill(&self, before: User) -> Option<User> {
        let mut after = before.clone();
        after.member_partition = MEMBER_PARTITION.to_owned();
        after.state = MemberState::Active as i32;
        match self.save(&before, after).await {
            Ok(after) => Some(after),
            Err(e) => {
                tracing::warn!(account = %before.email, error = %e, "could not add the account to the team listing");
                None
            }
        }
    }

    /// Adds a member; `AlreadyExists` if the email is taken (by a member
    /// not removed).
    pub async fn add_user(&self, email: &str, password: &str, role: Role, display_name: &str) -> DomainResult<()> {
        let mut v = validation::Violations::default();
        let email = validation::email(&mut v, "email", email);
        let display_name = validation::text(&mut v, "display_name", display_name, false, MAX_DISPLAY_NAME, false);
        if role == Role::Unspecified {
            v.add("role", "is required");
        }
        if !v.is_empty() {
            return Err(DomainError::Invalid(v.0));
        }
        check_new_password("password", password)?;
        let user = new_member(email.clone(), self.passwords.hash(password).await?, role, display_name);
        let taken = || DomainError::AlreadyExists(format!("user {email} already exists"));
        let entry = Entry { subject: email.clone(), detail: format!("role: {}", role.claim()), ..Entry::default() };
        let added = self.create(user, taken).await;
        if added.is_ok() {
            self.log.record(SecurityEventKind::MemberAdded, entry).await;
        }
        added
    }

    async fn create(&self, user: User, taken: impl Fn() -> DomainError) -> DomainResult<()> {
        let email = user.email.clone();
        match self.store.create_user(user.clone()).await {
            Err(StoreError::Conflict(_)) => {
                // A removed member's email makes a new member.
                let Some(removed) =
                    self.store.get_user(&email).await?.filter(|u| session::state_of(u) == MemberState::Removed)
                else {
                    return Err(taken());
                };
                let user = User { version: removed.version + 1, tokens_not_before: removed.tokens_not_before, ..user };
                self.store.save_user(&user, removed.version, None).await?;
                self.written(&user);
                Ok(())
            }
            other => {
                other?;
                self.written(&user);
                Ok(())
            }
        }
    }

    /// Sets a member's password and ends their sessions (the command line's reset).
    pub async fn reset_password(&self, email: &str, password: &str) -> DomainResult<()> {
        self.set_password(email, password, "password", SecurityEventKind::PasswordReset).await.map(|_| ())
    }

    /// Sets the signed-in member's new password, their current one checked
    /// already ([`crate::domain::sign_in::SignIn::change_password`]): every
    /// session ends, and this one goes on with the token returned.
    pub async fn change_password(&self, email: &str, password: &str) -> DomainResult<(String, Claims)> {
        let user = self.set_password(email, password, "new_password", SecurityEventKind::PasswordChanged).await?;
        let role =
            Role::from_claim(&user.role).ok_or_else(|| DomainError::Internal(format!("role {:?}", user.role)))?;
        self.keys.issuer().issue(email, role, user.tokens_not_before).map_err(|e| DomainError::Internal(e.to_string()))
    }

    async fn set_password(
        &self,
        email: &str,
        password: &str,
        field: &str,
        kind: SecurityEventKind,
    ) -> DomainResult<User> {
        check_new_password(field, password)?;
        let email = email.trim().to_lowercase();
        let hash = self.passwords.hash(password).await?;
        let Some(before) = self.store.get_user(&email).await?.filter(|u| session::state_of(u) != MemberState::Removed)
        else {
            return Err(DomainError::NotFound(format!("user {email}")));
        };
        let mut after =
            User { password_hash: hash, version: before.version + 1, updated_at: Some(now()), ..before.clone() };
        end_sessions(&mut after);
        self.store.save_user(&after, before.version, None).await?;
        self.written(&after);
        self.log.record(kind, Entry { actor: email.clone(), subject: email, ..Entry::default() }).await;
        Ok(after)
    }

    /// Creates the bootstrap admin unless a user with that email exists.
    /// Returns whether it was created.
    pub async fn ensure_admin(&self, email: &str, password: &str) -> DomainResult<bool> {
        if self.store.get_user(&email.trim().to_lowercase()).await?.is_some() {
            return Ok(false);
        }
        match self.add_user(email, password, Role::Admin, "").await {
            Ok(()) => Ok(true),
            Err(DomainError::AlreadyExists(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

const SECRET_FILE: &str = "jwt-secret";

/// The token secret of the local default: generated at first start, kept in
/// `dir` readable by the owner only, and reused afterwards.
pub fn load_or_create_secret(dir: &Path) -> Result<TokenSecret, String> {
    let text = load_or_create_key_file(dir, SECRET_FILE)?;
    TokenSecret::new(text.into_bytes()).map_err(|e| format!("{}: {e}", dir.join(SECRET_FILE).display()))
}

/// A key of the local default (hex of 32 random bytes) in `dir/name`:
/// created at first start readable by the owner only, then reused.
pub fn load_or_create_key_file(dir: &Path, name: &str) -> Result<String, String> {
    let path = dir.join(name);
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(&path) {
        Ok(mut file) => {
            let bytes: [u8; 32] = rand::random();
            let text = hex::encode(bytes);
            file.write_all(text.as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(|e| format!("{}: {e}", path.display()))?;
            Ok(text)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            Ok(text.trim().to_owned())
        }
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_is_created_once_owner_only_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create_secret(dir.path()).unwrap();
        let second = load_or_create_secret(dir.path()).unwrap();
        assert_eq!(first.expose(), second.expose());
        assert_eq!(first.expose().len(), 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(SECRET_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn password_policy() {
        assert!(check_new_password("password", "short").is_err());
        assert!(check_new_password("password", "elevenchars").is_err(), "12 characters at least");
        assert!(check_new_password("password", &"x".repeat(73)).is_err());
        assert!(check_new_password("password", "long enough password").is_ok());
        assert!(check_new_password("password", "correct horse battery staple").is_ok());
    }

    #[test]
    fn common_passwords_are_refused_also_dressed_up() {
        for weak in ["qwerty123456", "1qaz2wsx3edc", "Password1234", "dragon2026!!", "footballfootball", "LETMEIN!!!!!"]
        {
            assert!(is_common(weak), "{weak}");
            let refused = check_new_password("password", weak).unwrap_err();
            assert!(refused.to_string().contains("too common"), "{weak}: {refused}");
        }
        for own in ["astro-local-admin", "a long team password", "my cat eats kale daily", "zygomorphic-quokka"] {
            assert!(!is_common(own), "{own}");
        }
        assert!(common_passwords().len() > 10_000);
    }
}
