//! DynamoDB on-demand billing, by the published rules: an item's size is the UTF-8 length of
//! its attribute names plus the size of its values; a write is one write unit per KB of the
//! larger of the item before and after it (rounded up), plus a write to each global secondary
//! index the item is in before or after (two when its index key changes); a transactional
//! write is doubled; a read is one unit per 4 KB (rounded up; per item for GetItem and
//! BatchGetItem, over the items together for a Query), half of that when eventually consistent.

use serde_json::{Map, Value};

pub type Item = Map<String, Value>;

pub const WRITE_UNIT_BYTES: u64 = 1024;
pub const READ_UNIT_BYTES: u64 = 4096;

/// The size of one attribute value (`{"S": "..."}`, `{"N": "..."}`, `{"M": {...}}`, ...).
pub fn value_size(value: &Value) -> u64 {
    let Some((kind, v)) = value.as_object().and_then(|o| o.iter().next()) else {
        return 0;
    };
    let text = |v: &Value| v.as_str().map_or(0, |s| s.len() as u64);
    // Binary values travel base64-encoded; their size is the decoded length.
    let binary = |v: &Value| v.as_str().map_or(0, |s| (s.trim_end_matches('=').len() as u64 * 3) / 4);
    fn list(v: &Value) -> impl Iterator<Item = &Value> {
        v.as_array().into_iter().flatten()
    }
    match kind.as_str() {
        "S" => text(v),
        "N" => number_size(v.as_str().unwrap_or_default()),
        "B" => binary(v),
        "BOOL" | "NULL" => 1,
        "SS" => list(v).map(text).sum(),
        "NS" => list(v).map(|n| number_size(n.as_str().unwrap_or_default())).sum(),
        "BS" => list(v).map(binary).sum(),
        // A list or map takes 3 bytes, and each element 1 more.
        "L" => 3 + list(v).map(|e| 1 + value_size(e)).sum::<u64>(),
        "M" => {
            let entries = v.as_object().into_iter().flatten();
            3 + entries.map(|(name, e)| 1 + name.len() as u64 + value_size(e)).sum::<u64>()
        }
        _ => 0,
    }
}

/// A number takes 1 byte per two significant digits (leading and trailing zeros dropped),
/// plus 1 byte.
pub fn number_size(n: &str) -> u64 {
    let mantissa = n.split(['e', 'E']).next().unwrap_or_default();
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let significant = digits.trim_start_matches('0').trim_end_matches('0').len().max(1) as u64;
    significant.div_ceil(2) + 1
}

/// An item's size: each attribute's name and value.
pub fn item_size(item: &Item) -> u64 {
    item.iter().map(|(name, value)| name.len() as u64 + value_size(value)).sum()
}

/// Write units for `bytes`: one per KB, rounded up, at least one.
pub fn write_units(bytes: u64) -> u64 {
    bytes.div_ceil(WRITE_UNIT_BYTES).max(1)
}

/// Read units for `bytes`: one per 4 KB rounded up (at least one), half when eventually consistent.
pub fn read_units(bytes: u64, consistent: bool) -> f64 {
    let units = bytes.div_ceil(READ_UNIT_BYTES).max(1) as f64;
    if consistent { units } else { units / 2.0 }
}

/// Which attributes an index holds besides the keys.
#[derive(Debug, Clone, PartialEq)]
pub enum Projection {
    All,
    KeysOnly,
    Include(Vec<String>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Index {
    pub name: String,
    pub keys: Vec<String>,
    pub projection: Projection,
}

/// What billing needs of a table: its key attributes and its global secondary indexes.
#[derive(Debug, Clone, PartialEq)]
pub struct TableModel {
    pub keys: Vec<String>,
    pub indexes: Vec<Index>,
}

fn key_names(schema: Option<&serde_yaml::Value>) -> Vec<String> {
    let elements = schema.and_then(|s| s.as_sequence()).cloned().unwrap_or_default();
    elements.iter().filter_map(|e| e.get("AttributeName").and_then(|n| n.as_str()).map(str::to_string)).collect()
}

impl TableModel {
    /// From an `AWS::DynamoDB::Table`'s properties in template.yaml.
    pub fn from_template(properties: &serde_yaml::Value) -> Result<Self, String> {
        let keys = key_names(properties.get("KeySchema"));
        if keys.is_empty() {
            return Err("the table has no KeySchema".into());
        }
        let indexes = properties
            .get("GlobalSecondaryIndexes")
            .and_then(|g| g.as_sequence())
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|gsi| {
                let projection = gsi.get("Projection");
                let kind = projection.and_then(|p| p.get("ProjectionType")).and_then(|t| t.as_str());
                let projection = match kind {
                    Some("ALL") => Projection::All,
                    Some("KEYS_ONLY") | None => Projection::KeysOnly,
                    Some("INCLUDE") => Projection::Include(
                        projection
                            .and_then(|p| p.get("NonKeyAttributes"))
                            .and_then(|a| a.as_sequence())
                            .into_iter()
                            .flatten()
                            .filter_map(|a| a.as_str().map(str::to_string))
                            .collect(),
                    ),
                    Some(other) => return Err(format!("unknown ProjectionType {other}")),
                };
                let name = gsi.get("IndexName").and_then(|n| n.as_str()).unwrap_or_default().to_string();
                Ok(Index { name, keys: key_names(gsi.get("KeySchema")), projection })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { keys, indexes })
    }

    /// The primary key of an item (its key attributes only).
    pub fn key_of(&self, item: &Item) -> Item {
        self.keys.iter().filter_map(|k| item.get(k).map(|v| (k.clone(), v.clone()))).collect()
    }

    /// Write units of writing one item that was `before` and is `after` (`None`: absent).
    /// Unchanged (a failed condition) is still billed the item's size, with no index write.
    pub fn item_write_units(&self, before: Option<&Item>, after: Option<&Item>, transactional: bool) -> u64 {
        let size = |i: Option<&Item>| i.map_or(0, item_size);
        let table = write_units(size(before).max(size(after)));
        let table = if transactional { 2 * table } else { table };
        table + self.indexes.iter().map(|index| index.write_units(&self.keys, before, after)).sum::<u64>()
    }
}

impl Index {
    /// The item's entry in this index, if it has the index's keys.
    fn entry(&self, table_keys: &[String], item: Option<&Item>) -> Option<Item> {
        let item = item?;
        if !self.keys.iter().all(|k| item.contains_key(k)) {
            return None;
        }
        let kept = |name: &String| match &self.projection {
            Projection::All => true,
            Projection::KeysOnly => false,
            Projection::Include(names) => names.contains(name),
        };
        let is_key = |name: &String| self.keys.contains(name) || table_keys.contains(name);
        Some(item.iter().filter(|(name, _)| is_key(name) || kept(name)).map(|(k, v)| (k.clone(), v.clone())).collect())
    }

    /// An index is written when an item enters it, leaves it, or changes in it; a changed
    /// index key is a delete and a put.
    pub fn write_units(&self, table_keys: &[String], before: Option<&Item>, after: Option<&Item>) -> u64 {
        let key = |entry: &Item| self.keys.iter().map(|k| entry.get(k).cloned()).collect::<Vec<_>>();
        match (self.entry(table_keys, before), self.entry(table_keys, after)) {
            (None, None) => 0,
            (Some(old), None) => write_units(item_size(&old)),
            (None, Some(new)) => write_units(item_size(&new)),
            (Some(old), Some(new)) if old == new => 0,
            (Some(old), Some(new)) if key(&old) == key(&new) => write_units(item_size(&new)),
            (Some(old), Some(new)) => write_units(item_size(&old)) + write_units(item_size(&new)),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn item(v: Value) -> Item {
        v.as_object().cloned().expect("an item")
    }

    fn table() -> TableModel {
        let props: serde_yaml::Value = serde_yaml::from_str(
            "KeySchema: [{AttributeName: pk, KeyType: HASH}, {AttributeName: sk, KeyType: RANGE}]\n\
             GlobalSecondaryIndexes:\n\
             - IndexName: gsi1\n  KeySchema: [{AttributeName: gsi1pk, KeyType: HASH}, {AttributeName: gsi1sk, KeyType: RANGE}]\n  Projection: {ProjectionType: ALL}\n",
        )
        .expect("yaml");
        TableModel::from_template(&props).expect("model")
    }

    /// An item of exactly `bytes` bytes (keys pk and sk of 1 byte each), in the index or not.
    fn sized(bytes: u64, indexed: bool) -> Item {
        let mut i = item(json!({"pk": {"S": "p"}, "sk": {"S": "s"}}));
        if indexed {
            i.insert("gsi1pk".into(), json!({"S": "w"}));
            i.insert("gsi1sk".into(), json!({"S": "d"}));
        }
        let used = item_size(&i) + 4; // the name "data"
        i.insert("data".into(), json!({"S": "x".repeat((bytes - used) as usize)}));
        assert_eq!(item_size(&i), bytes);
        i
    }

    #[test]
    fn item_size_counts_names_and_values_by_type() {
        // GIVEN an item with a string, a number, a bool, a null, a list and a map
        let i = item(json!({
            "name": {"S": "abc"},        // 4 + 3
            "n": {"N": "12345"},        // 1 + 3 + 1
            "ok": {"BOOL": true},       // 2 + 1
            "z": {"NULL": true},        // 1 + 1
            "l": {"L": [{"S": "ab"}]},  // 1 + 3 + 1 + 2
            "m": {"M": {"k": {"N": "0.5"}}} // 1 + 3 + (1 + 1 + 2)
        }));
        // THEN its size follows DynamoDB's rules
        assert_eq!(item_size(&i), 7 + 5 + 3 + 2 + 7 + 8);
        assert_eq!(number_size("-1200.00"), 2, "12 significant: 1 byte, plus 1");
        assert_eq!(number_size("1e15"), 2);
        assert_eq!(value_size(&json!({"B": "AAECAw=="})), 4, "base64 of four bytes");
    }

    #[test]
    fn writes_are_one_unit_per_kb_rounded_up() {
        // GIVEN a 1.2 KB PutItem of a new item outside the index
        let t = table();
        let new = sized(1229, false);
        // THEN it is 2 write units; 1 KB exactly is 1
        assert_eq!(t.item_write_units(None, Some(&new), false), 2);
        assert_eq!(t.item_write_units(None, Some(&sized(1024, false)), false), 1);
        assert_eq!(write_units(0), 1, "even an empty write is a unit");
    }

    #[test]
    fn an_item_in_an_all_projection_index_is_written_twice() {
        // GIVEN a new 3 KB item that has the index's keys (projection ALL)
        let t = table();
        // THEN 3 units for the table and 3 for the index
        assert_eq!(t.item_write_units(None, Some(&sized(3 * 1024, true)), false), 6);
    }

    #[test]
    fn an_update_is_billed_by_the_larger_item_and_the_index_only_when_it_changes() {
        let t = table();
        // GIVEN a 3 KB item outside the index shrunk to 0.5 KB: 3 units (the larger)
        assert_eq!(t.item_write_units(Some(&sized(3 * 1024, false)), Some(&sized(512, false)), false), 3);
        // AND an indexed item that did not change (a failed condition): the table only
        let same = sized(2000, true);
        assert_eq!(t.item_write_units(Some(&same), Some(&same), false), 2);
        // AND an indexed item whose index key changed: a delete and a put in the index
        let mut moved = same.clone();
        moved.insert("gsi1sk".into(), json!({"S": "e"}));
        assert_eq!(t.item_write_units(Some(&same), Some(&moved), false), 2 + 2 + 2);
        // AND an indexed item deleted: the table and the index entry
        assert_eq!(t.item_write_units(Some(&same), None, false), 4);
    }

    #[test]
    fn a_transactional_write_is_doubled() {
        // GIVEN a 1.5 KB item outside the index written in a transaction
        let t = table();
        assert_eq!(t.item_write_units(None, Some(&sized(1536, false)), true), 4);
    }

    #[test]
    fn reads_are_per_4_kb_and_half_when_eventually_consistent() {
        assert_eq!(read_units(100, true), 1.0);
        assert_eq!(read_units(4097, true), 2.0);
        assert_eq!(read_units(4097, false), 1.0);
        assert_eq!(read_units(0, false), 0.5, "a read of nothing is still half a unit");
    }

    #[test]
    fn the_real_template_has_one_all_projection_index() {
        let template = crate::stack::Template::load(&crate::stack::template_path()).expect("template");
        let props = template.properties("HooklineTable").expect("table");
        let model = TableModel::from_template(props).expect("model");
        assert_eq!(model.keys, ["pk", "sk"]);
        assert_eq!(model.indexes.len(), 1);
        assert_eq!(model.indexes[0].projection, Projection::All);
    }
}
