//! A whole store as JSON Lines, and back: for moving an installation from
//! one store to another (embedded → DynamoDB, or back).
//!
//! Each line is one stored item in the contract's JSON form (the proto3
//! JSON mapping, from the descriptors the service serves for reflection):
//! `{"entity":"Prospect","item":{…}}`. Items are written as they are, keys
//! and all, so a dump loaded elsewhere reads back the same. Derived items
//! follow the target: the embedded store keeps no column counters (it
//! counts on its index), DynamoDB does (see `Store::load`).

use astro_proto::storage::StoredEntity;
use prost::Message as _;

/// Any stored message.
macro_rules! any_entity {
    ($($name:ident => $path:path [$pk:literal, $sk:literal],)*) => {
        /// Any stored message, as a dump carries it.
        #[derive(Debug, Clone, PartialEq)]
        pub enum AnyEntity {
            $($name($path),)*
        }

        impl AnyEntity {
            /// The entity's message name (`Prospect`).
            pub fn name(&self) -> &'static str {
                match self {
                    $(Self::$name(_) => stringify!($name),)*
                }
            }

            pub fn pk(&self) -> String {
                match self {
                    $(Self::$name(e) => e.pk(),)*
                }
            }

            pub fn sk(&self) -> String {
                match self {
                    $(Self::$name(e) => e.sk(),)*
                }
            }

            pub fn index_values(&self) -> Vec<astro_proto::storage::IndexValue> {
                match self {
                    $(Self::$name(e) => e.index_values(),)*
                }
            }

            pub fn expires(&self) -> Option<i64> {
                match self {
                    $(Self::$name(e) => e.expires(),)*
                }
            }

            /// The protobuf encoding (the embedded store's `body`).
            pub fn encode(&self) -> Vec<u8> {
                match self {
                    $(Self::$name(e) => e.encode_to_vec(),)*
                }
            }

            /// Decodes an item of entity `name` from its protobuf encoding.
            pub fn decode(name: &str, bytes: &[u8]) -> Result<Self, String> {
                match name {
                    $(stringify!($name) => <$path>::decode(bytes).map(Self::$name).map_err(|e| e.to_string()),)*
                    other => Err(format!("unknown entity {other:?}")),
                }
            }

            /// The DynamoDB item.
            pub fn to_item(&self) -> astro_proto::storage::Item {
                match self {
                    $(Self::$name(e) => e.to_item(),)*
                }
            }

            /// Reads a DynamoDB item, recognised by its keys: the entity
            /// whose key prefixes it has (the longest pair, when several).
            pub fn from_item(item: &astro_proto::storage::Item) -> Result<Self, String> {
                use astro_proto::storage::{Attr, ItemMap as _, PK, SK};
                let key = |name: &str| match item.get(name) {
                    Some(Attr::S(s)) => s.clone(),
                    _ => String::new(),
                };
                let (pk, sk) = (key(PK), key(SK));
                let mut best: Option<(&str, usize)> = None;
                $(
                    if pk.starts_with($pk) && sk.starts_with($sk) && best.is_none_or(|(_, l)| $pk.len() + $sk.len() > l) {
                        best = Some((stringify!($name), $pk.len() + $sk.len()));
                    }
                )*
                match best.map(|(name, _)| name) {
                    $(Some(stringify!($name)) => <$path>::from_attributes(item).map(Self::$name).map_err(|e| format!("{pk} {sk}: {e}")),)*
                    _ => Err(format!("no entity has the keys {pk:?} {sk:?}")),
                }
            }
        }
    };
}

astro_proto::stored_entities!(any_entity);

fn descriptors() -> &'static prost_reflect::DescriptorPool {
    static POOL: std::sync::LazyLock<prost_reflect::DescriptorPool> = std::sync::LazyLock::new(|| {
        prost_reflect::DescriptorPool::decode(astro_proto::FILE_DESCRIPTOR_SET).expect("the contract's descriptors")
    });
    &POOL
}

fn descriptor(name: &str) -> Result<prost_reflect::MessageDescriptor, String> {
    descriptors().get_message_by_name(&format!("astro.v1.{name}")).ok_or_else(|| format!("unknown entity {name:?}"))
}

/// One line of a dump: the entity and the item in the contract's JSON form.
pub fn to_line(entity: &AnyEntity) -> Result<String, String> {
    let message = prost_reflect::DynamicMessage::decode(descriptor(entity.name())?, entity.encode().as_slice())
        .map_err(|e| e.to_string())?;
    let item = serde_json::to_value(&message).map_err(|e| e.to_string())?;
    serde_json::to_string(&serde_json::json!({ "entity": entity.name(), "item": item })).map_err(|e| e.to_string())
}

/// Reads one line of a dump.
pub fn from_line(line: &str) -> Result<AnyEntity, String> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Line {
        entity: String,
        item: serde_json::Value,
    }
    let line: Line = serde_json::from_str(line).map_err(|e| e.to_string())?;
    let message = prost_reflect::DynamicMessage::deserialize(descriptor(&line.entity)?, line.item)
        .map_err(|e| format!("{}: {e}", line.entity))?;
    AnyEntity::decode(&line.entity, &message.encode_to_vec())
}

/// Items read or written per store call.
const PAGE: usize = 500;

/// Writes every item of `store` to the file `path` (which must not exist)
/// as JSON Lines; returns how many.
pub async fn dump(store: &dyn super::Store, path: &std::path::Path) -> anyhow::Result<u64> {
    use anyhow::Context as _;
    use tokio::io::AsyncWriteExt as _;
    let file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .await
        .with_context(|| format!("creating {} (a dump never overwrites a file)", path.display()))?;
    let mut out = tokio::io::BufWriter::new(file);
    let (mut after, mut written) = (None, 0u64);
    loop {
        let (items, next) = store.dump_page(after, PAGE).await?;
        for item in &items {
            let line = to_line(item).map_err(anyhow::Error::msg)?;
            out.write_all(line.as_bytes()).await?;
            out.write_all(b"\n").await?;
            written += 1;
        }
        match next {
            Some(position) => after = Some(position),
            None => break,
        }
    }
    out.flush().await?;
    out.into_inner().sync_all().await?;
    Ok(written)
}

/// Loads the dump at `path` into `store`, which must hold nothing yet;
/// returns how many items. A bad line is named (its number) and stops the
/// load before anything of its page is written.
pub async fn load(store: &dyn super::Store, path: &std::path::Path) -> anyhow::Result<u64> {
    use anyhow::Context as _;
    use tokio::io::AsyncBufReadExt as _;
    let (existing, _) = store.dump_page(None, 1).await?;
    if let Some(item) = existing.first() {
        anyhow::bail!(
            "the target store is not empty (it holds {} {}): load only into a new one",
            item.name(),
            item.pk()
        );
    }
    let file = tokio::fs::File::open(path).await.with_context(|| format!("opening {}", path.display()))?;
    let mut lines = tokio::io::BufReader::new(file).lines();
    let (mut page, mut loaded, mut number) = (Vec::with_capacity(PAGE), 0u64, 0u64);
    let mut cards: Vec<(i32, i64)> = Vec::new();
    let mut counters = false;
    while let Some(line) = lines.next_line().await? {
        number += 1;
        if line.trim().is_empty() {
            continue;
        }
        let entity = from_line(&line).map_err(|e| anyhow::anyhow!("{}, line {number}: {e}", path.display()))?;
        match &entity {
            AnyEntity::Prospect(p) => super::add_counts_of(&mut cards, p.status),
            AnyEntity::ProspectStatusCounter(_) => counters = true,
            _ => {}
        }
        page.push(entity);
        if page.len() == PAGE {
            loaded += page.len() as u64;
            store.load(std::mem::take(&mut page)).await?;
        }
    }
    loaded += page.len() as u64;
    store.load(page).await?;
    store.load_done(&cards, counters).await?;
    Ok(loaded)
}

#[cfg(test)]
mod tests {
    use astro_proto::v1::{Prospect, ProspectEvent, ProspectStatus};

    use super::*;

    #[test]
    fn an_item_goes_to_a_line_and_back_and_is_recognised_by_its_keys() {
        let card = Prospect {
            id: "p1".into(),
            first_name: "Ada".into(),
            status: ProspectStatus::Won as i32,
            version: 3,
            created_at: Some(prost_types::Timestamp { seconds: 1_700_000_000, nanos: 123_000 }),
            ..Default::default()
        };
        let entity = AnyEntity::Prospect(card.clone());
        let line = to_line(&entity).unwrap();
        assert!(line.contains(r#""entity":"Prospect""#) && line.contains(r#""firstName":"Ada""#), "{line}");
        assert!(line.contains(r#""status":"PROSPECT_STATUS_WON""#) && line.contains(r#""version":"3""#), "{line}");
        assert_eq!(from_line(&line).unwrap(), entity);

        let event =
            AnyEntity::ProspectEvent(ProspectEvent { prospect_id: "p1".into(), id: "e1".into(), ..Default::default() });
        for e in [entity, event] {
            assert_eq!(AnyEntity::from_item(&e.to_item()).unwrap(), e, "{}", e.name());
        }
        assert!(from_line(r#"{"entity":"Nope","item":{}}"#).is_err());
        assert!(from_line(r#"{"entity":"Prospect","item":{"firstName":3}}"#).is_err());
    }
}
