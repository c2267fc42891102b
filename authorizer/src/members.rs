//! The member records the authorizer Lambda checks a token's session
//! against (see [`crate::session`]): one consistent `GetItem` of
//! `USER#<email>` per authorization, that is once per token per API
//! Gateway cache period (300 s).

use astro_proto::{
    storage::{self, dynamodb},
    v1::User,
};
use aws_sdk_dynamodb::{Client, error::DisplayErrorContext};

pub struct MemberRecords {
    client: Client,
    table: String,
}

impl MemberRecords {
    pub fn new(client: Client, table: String) -> Self {
        Self { client, table }
    }

    /// The member stored under `email`, if any.
    pub async fn get(&self, email: &str) -> Result<Option<User>, String> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(dynamodb::key(storage::user::pk(email), storage::user::sk())))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| format!("reading member {email}: {}", DisplayErrorContext(e)))?;
        out.item.map(|item| dynamodb::decode(&item).map_err(|e| format!("member {email}: {e}"))).transpose()
    }
}
