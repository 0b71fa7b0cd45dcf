//! Kustomer's JSON:API envelopes and the typed views i2k reads from them. Parsing is lenient:
//! unknown fields are ignored, missing or null ones become `None`/empty, and ids may arrive as
//! strings or numbers. Request bodies are flat JSON (`serde_json::Value`), as the API expects.

use serde_json::{Map, Value};

/// One `data` object: `{type, id, attributes, relationships}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    pub kind: String,
    pub id: String,
    pub attributes: Map<String, Value>,
    pub relationships: Map<String, Value>,
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl Resource {
    /// Reads a `data` object; `None` when it has no id (a null or malformed `data`).
    pub fn from_value(data: &Value) -> Option<Resource> {
        let id = text(data.get("id")?)?;
        let object = |key: &str| {
            data.get(key)
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default()
        };
        Some(Resource {
            kind: data
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            id,
            attributes: object("attributes"),
            relationships: object("relationships"),
        })
    }

    /// The single resource of a response body (`{data: {...}}`), or the first of a list.
    pub fn from_body(body: &Value) -> Option<Resource> {
        match body.get("data")? {
            Value::Array(items) => items.first().and_then(Resource::from_value),
            data => Resource::from_value(data),
        }
    }

    /// A string attribute, `None` when absent, null or empty.
    pub fn str(&self, key: &str) -> Option<&str> {
        self.attributes
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }

    pub fn bool(&self, key: &str) -> Option<bool> {
        self.attributes.get(key).and_then(Value::as_bool)
    }

    pub fn strings(&self, key: &str) -> Vec<String> {
        self.attributes
            .get(key)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(text).collect())
            .unwrap_or_default()
    }

    /// The id a relationship points at (`relationships.<key>.data.id`).
    pub fn related_id(&self, key: &str) -> Option<String> {
        self.relationships
            .get(key)
            .and_then(|r| r.get("data"))
            .and_then(|d| d.get("id"))
            .and_then(text)
    }

    /// The ids of a to-many relationship (`relationships.<key>.data[].id`).
    pub fn related_ids(&self, key: &str) -> Vec<String> {
        self.relationships
            .get(key)
            .and_then(|r| r.get("data"))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|d| d.get("id").and_then(text))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn external_id(&self) -> Option<&str> {
        self.str("externalId")
    }
}

/// One page of a list: its resources, `meta.total` when the API gives it, and `links.next`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Page {
    pub items: Vec<Resource>,
    pub total: Option<u64>,
    pub next: Option<String>,
    /// Whether the answer had a `links` object at all (then a null `next` means the end).
    pub has_links: bool,
}

impl Page {
    pub fn from_body(body: &Value) -> Page {
        let items = match body.get("data") {
            Some(Value::Array(items)) => items.iter().filter_map(Resource::from_value).collect(),
            Some(single @ Value::Object(_)) => Resource::from_value(single).into_iter().collect(),
            _ => Vec::new(),
        };
        let meta = body.get("meta");
        let total = meta
            .and_then(|m| m.get("total").or_else(|| m.get("totalCount")))
            .and_then(|t| t.as_u64().or_else(|| t.as_str()?.parse().ok()));
        let has_links = body.get("links").is_some_and(Value::is_object);
        let next = body
            .get("links")
            .and_then(|l| l.get("next"))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        Page {
            items,
            total,
            next,
            has_links,
        }
    }

    /// Whether another page may follow, given how many items were fetched so far: a `links.next`
    /// says so; without links, `meta.total` or a full page does.
    pub fn more_after(&self, fetched: u64, page_size: u32) -> bool {
        if self.items.is_empty() {
            return false;
        }
        if self.next.is_some() {
            return true;
        }
        if let Some(total) = self.total {
            return fetched < total;
        }
        !self.has_links && self.items.len() as u64 >= u64::from(page_size)
    }
}

/// What `GET /v1/auth/tokens/current` says about the key.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TokenInfo {
    pub id: Option<String>,
    pub roles: Vec<String>,
    /// The org name, where the response carries one.
    pub org_name: Option<String>,
    pub org_id: Option<String>,
    /// The (machine) user behind the key.
    pub user_id: Option<String>,
}

impl TokenInfo {
    pub fn from_body(body: &Value) -> TokenInfo {
        let Some(r) = Resource::from_body(body) else {
            return TokenInfo::default();
        };
        let org_name = r
            .str("orgName")
            .or_else(|| {
                r.attributes
                    .get("org")
                    .and_then(|o| o.get("name")?.as_str())
            })
            .map(str::to_string);
        TokenInfo {
            id: Some(r.id.clone()),
            roles: r.strings("roles"),
            org_name,
            org_id: r
                .related_id("org")
                .or_else(|| r.str("org").map(str::to_string)),
            user_id: r
                .related_id("user")
                .or_else(|| r.str("user").map(str::to_string)),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: String,
    pub name: String,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub user_type: Option<String>,
    pub deleted: bool,
}

impl User {
    pub fn from_resource(r: &Resource) -> User {
        User {
            id: r.id.clone(),
            name: r.str("name").unwrap_or_default().to_string(),
            display_name: r.str("displayName").map(str::to_string),
            email: r.str("email").map(str::to_string),
            user_type: r.str("userType").map(str::to_string),
            deleted: r.bool("deleted").unwrap_or(false),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Team {
    pub id: String,
    pub name: String,
    pub display_name: Option<String>,
    pub external_id: Option<String>,
    /// Member user ids, from `attributes.members` or `relationships.members`.
    pub members: Vec<String>,
}

impl Team {
    pub fn from_resource(r: &Resource) -> Team {
        let mut members = r.strings("members");
        if members.is_empty() {
            members = r.related_ids("members");
        }
        Team {
            id: r.id.clone(),
            name: r.str("name").unwrap_or_default().to_string(),
            display_name: r.str("displayName").map(str::to_string),
            external_id: r.external_id().map(str::to_string),
            members,
        }
    }
}

/// A resource known by id and name (brands, klasses, tags, KB categories, shortcuts, saved
/// searches): listings are matched on name.
#[derive(Debug, Clone, PartialEq)]
pub struct Named {
    pub id: String,
    pub name: String,
    pub is_default: bool,
    pub resource: Resource,
}

impl Named {
    pub fn from_resource(r: &Resource) -> Named {
        let name = r
            .str("name")
            .or_else(|| r.str("title"))
            .or_else(|| r.str("displayName"))
            .unwrap_or_default()
            .to_string();
        Named {
            id: r.id.clone(),
            name,
            is_default: r.bool("default").unwrap_or(false),
            resource: r.clone(),
        }
    }
}

/// One weekday's open intervals in minutes from midnight, `None` = closed.
pub type DayHours = Option<Vec<[u32; 2]>>;

/// A business schedule: `hours` keyed `"0"` (Sunday) … `"6"` (Saturday).
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub id: String,
    pub name: String,
    pub timezone: Option<String>,
    pub is_default: bool,
    /// Index 0 = Sunday.
    pub hours: [DayHours; 7],
}

impl Schedule {
    pub fn from_resource(r: &Resource) -> Schedule {
        let mut hours: [DayHours; 7] = Default::default();
        if let Some(map) = r.attributes.get("hours").and_then(Value::as_object) {
            for (day, slot) in hours.iter_mut().enumerate() {
                *slot = map.get(&day.to_string()).and_then(|v| {
                    let intervals: Vec<[u32; 2]> = v
                        .as_array()?
                        .iter()
                        .filter_map(|i| {
                            let pair = i.as_array()?;
                            Some([
                                u32::try_from(pair.first()?.as_u64()?).ok()?,
                                u32::try_from(pair.get(1)?.as_u64()?).ok()?,
                            ])
                        })
                        .collect();
                    Some(intervals)
                });
            }
        }
        Schedule {
            id: r.id.clone(),
            name: r.str("name").unwrap_or_default().to_string(),
            timezone: r.str("timezone").map(str::to_string),
            is_default: r.bool("default").unwrap_or(false),
            hours,
        }
    }

    /// The `hours` object of a create body.
    pub fn hours_body(hours: &[DayHours; 7]) -> Value {
        let mut map = Map::new();
        for (day, slot) in hours.iter().enumerate() {
            let value = match slot {
                Some(intervals) => Value::Array(
                    intervals
                        .iter()
                        .map(|[a, b]| Value::Array(vec![(*a).into(), (*b).into()]))
                        .collect(),
                ),
                None => Value::Null,
            };
            map.insert(day.to_string(), value);
        }
        Value::Object(map)
    }
}

/// What `POST /v1/attachments` hands back: the attachment's id and the upload form.
#[derive(Debug, Clone, PartialEq)]
pub struct UploadTicket {
    pub id: String,
    pub url: String,
    /// Form fields in the order given; the file goes after them.
    pub fields: Vec<(String, String)>,
}

impl UploadTicket {
    pub fn from_body(body: &Value) -> Option<UploadTicket> {
        let resource = Resource::from_body(body)?;
        // The reference puts `upload` under the top-level `meta`; some answers nest it in `data`.
        let upload = body
            .get("meta")
            .and_then(|m| m.get("upload"))
            .or_else(|| body.get("data")?.get("meta")?.get("upload"))
            .or_else(|| resource.attributes.get("upload"))?;
        let url = upload.get("url")?.as_str()?.to_string();
        let fields = upload
            .get("fields")
            .and_then(Value::as_object)
            .map(|f| {
                f.iter()
                    .filter_map(|(k, v)| Some((k.clone(), text(v)?)))
                    .collect()
            })
            .unwrap_or_default();
        Some(UploadTicket {
            id: resource.id,
            url,
            fields,
        })
    }
}

/// How a message or note references an uploaded attachment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentRef {
    pub id: String,
    pub name: String,
    pub content_type: String,
    pub content_length: u64,
}

impl AttachmentRef {
    /// `{_id, name, contentType, contentLength}`.
    pub fn to_value(&self) -> Value {
        serde_json::json!({
            "_id": self.id,
            "name": self.name,
            "contentType": self.content_type,
            "contentLength": self.content_length,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn resources_tolerate_nulls_numbers_and_unknown_fields() {
        let body = json!({"data": {"type": "customer", "id": 12, "attributes": null,
                                   "relationships": {"org": {"data": {"type": "org", "id": "o1"}}},
                                   "surprise": true}});
        let r = Resource::from_body(&body).unwrap();
        assert_eq!((r.kind.as_str(), r.id.as_str()), ("customer", "12"));
        assert!(r.attributes.is_empty());
        assert_eq!(r.related_id("org").as_deref(), Some("o1"));
        assert_eq!(Resource::from_body(&json!({"data": null})), None);
        assert_eq!(Resource::from_body(&json!({"errors": []})), None);
    }

    #[test]
    fn pages_read_total_and_next_link() {
        let body = json!({"data": [{"type": "tag", "id": "a"}, {"id": null}],
                          "meta": {"page": 1, "total": 7}, "links": {"next": "/v1/tags?page=2"}});
        let page = Page::from_body(&body);
        assert_eq!(page.items.len(), 1);
        assert_eq!(page.total, Some(7));
        assert_eq!(page.next.as_deref(), Some("/v1/tags?page=2"));
        let last = Page::from_body(&json!({"data": [], "links": {"next": null}}));
        assert_eq!((last.total, last.next), (None, None));
    }

    #[test]
    fn paging_stops_at_the_end_whatever_the_server_says() {
        let items = |n: usize| -> Vec<Value> { (0..n).map(|i| json!({"id": i})).collect() };
        let linked_end = Page::from_body(&json!({"data": items(2), "links": {"next": null}}));
        assert!(
            !linked_end.more_after(2, 2),
            "a null next ends a linked list"
        );
        let counted = Page::from_body(&json!({"data": items(2), "meta": {"total": 5}}));
        assert!(counted.more_after(2, 100), "meta.total says more");
        assert!(!counted.more_after(5, 100));
        let bare_full = Page::from_body(&json!({"data": items(3)}));
        assert!(
            bare_full.more_after(3, 3),
            "no links: a full page may have a successor"
        );
        assert!(!bare_full.more_after(3, 4));
        let empty = Page::from_body(&json!({"data": [], "links": {"next": "/v1/x?page=9"}}));
        assert!(!empty.more_after(0, 10), "an empty page always ends");
    }

    #[test]
    fn schedule_hours_round_trip_with_closed_days() {
        let mut hours: [DayHours; 7] = Default::default();
        hours[1] = Some(vec![[480, 720], [780, 1020]]);
        let body = Schedule::hours_body(&hours);
        assert_eq!(body["0"], Value::Null);
        assert_eq!(body["1"], json!([[480, 720], [780, 1020]]));
        let r = Resource::from_value(
            &json!({"id": "s", "attributes": {"name": "Support", "hours": body, "default": true}}),
        )
        .unwrap();
        let s = Schedule::from_resource(&r);
        assert_eq!(s.hours, hours);
        assert!(s.is_default);
    }

    #[test]
    fn upload_tickets_keep_the_form_fields() {
        let body = json!({"data": {"type": "attachment", "id": "att1", "attributes": {"name": "a.png"}},
                          "meta": {"upload": {"url": "http://127.0.0.1:9/upload",
                                              "fields": {"key": "k", "Policy": "p"}}}});
        let t = UploadTicket::from_body(&body).unwrap();
        assert_eq!(t.id, "att1");
        assert_eq!(t.url, "http://127.0.0.1:9/upload");
        assert_eq!(t.fields.len(), 2);
    }
}
