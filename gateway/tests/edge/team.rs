//! Roles at the edge: the contract's permission table decides every REST
//! route and gRPC-web method before the call reaches the service (which
//! checks again), on both stores.

use astro_authorizer::Role;
use astro_proto::v1::{
    DeleteProspectRequest, DeleteProspectResponse, ListMembersRequest, ListMembersResponse, ListProspectsRequest,
    ListProspectsResponse, Member, Prospect, UpdateMemberRequest, UpdateProspectRequest,
};
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn a_viewer_reads_over_rest_and_grpc_web_and_every_write_is_refused() {
    for backend in BACKENDS {
        let stack = spawn_on(backend, &[]).await;
        let receipt: Value = stack
            .submit(&submission("Ada", "ada@example.com", &stack.solved().await), None)
            .await
            .json()
            .await
            .unwrap();
        let id = receipt["id"].as_str().unwrap().to_owned();
        let viewer = stack.member("vera@example.com", Role::Viewer).await;
        let bearer = format!("Bearer {viewer}");
        let auth = [("authorization", bearer.as_str())];

        // Reads: REST and gRPC-web.
        let page = stack.http.get(stack.at("/prospects")).bearer_auth(&viewer).send().await.unwrap();
        assert_eq!(page.status(), 200, "{backend:?}");
        let card = stack.http.get(stack.at(&format!("/prospects/{id}"))).bearer_auth(&viewer).send().await.unwrap();
        assert_eq!(card.status(), 200);
        let listed: ListProspectsResponse =
            grpc_web(&stack, "/astro.v1.ProspectService/ListProspects", &ListProspectsRequest::default(), &auth)
                .await
                .unwrap();
        assert_eq!(listed.prospects.len(), 1);
        let team: ListMembersResponse =
            grpc_web(&stack, "/astro.v1.MemberService/ListMembers", &ListMembersRequest::default(), &auth)
                .await
                .unwrap();
        assert_eq!(team.members.len(), 2);

        // Writes: 403 problems over REST, PERMISSION_DENIED over gRPC-web.
        let patch = stack
            .http
            .patch(stack.at(&format!("/prospects/{id}")))
            .bearer_auth(&viewer)
            .header("if-match", "\"1\"")
            .json(&json!({"status": "won"}))
            .send()
            .await
            .unwrap();
        assert_problem(patch, 403, None).await;
        let delete =
            stack.http.delete(stack.at(&format!("/prospects/{id}"))).bearer_auth(&viewer).send().await.unwrap();
        assert_problem(delete, 403, None).await;
        let update = UpdateProspectRequest {
            prospect: Some(Prospect { id: id.clone(), version: 1, status: 4, ..Default::default() }),
            update_mask: Some(prost_types::FieldMask { paths: vec!["status".into()] }),
        };
        let refused = grpc_web::<Prospect>(&stack, "/astro.v1.ProspectService/UpdateProspect", &update, &auth).await;
        assert_eq!(refused.unwrap_err().code(), tonic::Code::PermissionDenied);
        let delete = DeleteProspectRequest { id: id.clone(), version: 0 };
        let refused =
            grpc_web::<DeleteProspectResponse>(&stack, "/astro.v1.ProspectService/DeleteProspect", &delete, &auth)
                .await;
        assert_eq!(refused.unwrap_err().code(), tonic::Code::PermissionDenied);
        let promote = UpdateMemberRequest {
            member: Some(Member {
                email: "vera@example.com".into(),
                role: Role::Admin as i32,
                version: 1,
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask { paths: vec!["role".into()] }),
        };
        let refused = grpc_web::<Member>(&stack, "/astro.v1.MemberService/UpdateMember", &promote, &auth).await;
        assert_eq!(refused.unwrap_err().code(), tonic::Code::PermissionDenied);

        // Nothing changed.
        let card: Value = stack.get(&format!("/prospects/{id}")).await.json().await.unwrap();
        assert_eq!((card["status"].as_str(), card["version"].as_i64()), (Some("new"), Some(1)), "{backend:?}");
    }
}

#[tokio::test]
async fn a_token_whose_member_was_deactivated_is_refused_at_the_edge_too() {
    let stack = spawn().await;
    let sales = stack.member("sam@example.com", Role::Sales).await;
    let page = stack.http.get(stack.at("/prospects")).bearer_auth(&sales).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let admin = format!("Bearer {}", stack.admin());
    let auth = [("authorization", admin.as_str())];
    let team: ListMembersResponse =
        grpc_web(&stack, "/astro.v1.MemberService/ListMembers", &ListMembersRequest::default(), &auth).await.unwrap();
    let sam = team.members.into_iter().find(|m| m.email == "sam@example.com").unwrap();
    let deactivate = UpdateMemberRequest {
        member: Some(Member { state: astro_proto::v1::MemberState::Deactivated as i32, ..sam }),
        update_mask: Some(prost_types::FieldMask { paths: vec!["state".into()] }),
    };
    let _: Member = grpc_web(&stack, "/astro.v1.MemberService/UpdateMember", &deactivate, &auth).await.unwrap();
    let refused = stack.http.get(stack.at("/prospects")).bearer_auth(&sales).send().await.unwrap();
    assert_problem(refused, 401, None).await;
    let bearer = format!("Bearer {sales}");
    let refused = grpc_web::<ListProspectsResponse>(
        &stack,
        "/astro.v1.ProspectService/ListProspects",
        &ListProspectsRequest::default(),
        &[("authorization", bearer.as_str())],
    )
    .await;
    assert_eq!(refused.unwrap_err().code(), tonic::Code::Unauthenticated);
}

#[tokio::test]
async fn with_two_factor_sign_in_rest_gives_a_ticket_and_the_second_step_the_token() {
    use astro_proto::v1::{
        ConfirmTwoFactorEnrolmentRequest, ConfirmTwoFactorEnrolmentResponse, StartTwoFactorEnrolmentRequest,
        TwoFactorEnrolment,
    };
    for backend in BACKENDS {
        let stack = spawn_on(backend, &[]).await;
        let sam = stack.member("sam@example.com", Role::Sales).await;
        let bearer = format!("Bearer {sam}");
        let auth = [("authorization", bearer.as_str())];
        // Enrolment over gRPC-web, as the web app does it.
        let start =
            StartTwoFactorEnrolmentRequest { current_password: "a long team password".into(), ..Default::default() };
        let shown: TwoFactorEnrolment =
            grpc_web(&stack, "/astro.v1.AuthService/StartTwoFactorEnrolment", &start, &auth).await.unwrap();
        let confirm = ConfirmTwoFactorEnrolmentRequest {
            code: astro_testkit::totp::code(&shown.secret, 0),
            ..Default::default()
        };
        let confirmed: ConfirmTwoFactorEnrolmentResponse =
            grpc_web(&stack, "/astro.v1.AuthService/ConfirmTwoFactorEnrolment", &confirm, &auth).await.unwrap();
        assert_eq!(confirmed.recovery_codes.len(), 10, "{backend:?}");

        // REST: the password gives a ticket and no token.
        let login = json!({"email": "sam@example.com", "password": "a long team password"});
        let answer: Value =
            stack.http.post(stack.at("/auth/login")).json(&login).send().await.unwrap().json().await.unwrap();
        assert_eq!(answer["token"], "", "{answer}");
        assert_eq!(answer["secondStep"]["enrol"], false);
        let ticket = answer["secondStep"]["ticket"].as_str().unwrap().to_owned();

        let wrong = json!({"ticket": ticket, "code": "000000"});
        let refused = stack.http.post(stack.at("/auth/second-step")).json(&wrong).send().await.unwrap();
        assert_problem(refused, 400, Some("code")).await;
        let right = json!({"ticket": ticket, "code": astro_testkit::totp::code(&shown.secret, 1)});
        let signed_in = stack.http.post(stack.at("/auth/second-step")).json(&right).send().await.unwrap();
        assert_eq!(signed_in.status(), 200);
        let signed_in: Value = signed_in.json().await.unwrap();
        assert!(signed_in.get("secondStep").is_none(), "{signed_in}");
        let token = signed_in["token"].as_str().unwrap();
        let page = stack.http.get(stack.at("/prospects")).bearer_auth(token).send().await.unwrap();
        assert_eq!(page.status(), 200);
        // The same code again is refused: good once.
        let replayed = stack.http.post(stack.at("/auth/second-step")).json(&right).send().await.unwrap();
        assert_problem(replayed, 400, Some("code")).await;
    }
}

#[tokio::test]
async fn forgot_password_over_rest_answers_alike_and_a_link_not_genuine_is_named() {
    for backend in BACKENDS {
        let stack = spawn_on(backend, &[]).await;
        stack.member("sam@example.com", Role::Sales).await;
        for email in ["sam@example.com", "nobody@example.com"] {
            let asked =
                stack.http.post(stack.at("/auth/forgot-password")).json(&json!({"email": email})).send().await.unwrap();
            assert_eq!(asked.status(), 202, "{backend:?} {email}");
            assert_eq!(asked.text().await.unwrap(), "", "no body, whoever asks");
        }
        let bad =
            stack.http.post(stack.at("/auth/forgot-password")).json(&json!({"email": "nope"})).send().await.unwrap();
        assert_problem(bad, 400, Some("email")).await;
        let reset = json!({"token": "not.a-link", "newPassword": "a brand new passphrase"});
        let refused = stack.http.post(stack.at("/auth/reset-password")).json(&reset).send().await.unwrap();
        assert_problem(refused, 400, Some("token")).await;
    }
}
