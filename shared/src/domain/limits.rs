//! Every size and count limit of the API in one place, so the docs, the validators and the
//! tests quote the same numbers.

/// Largest request body the API accepts (bytes). An event is carried whole inside its SQS
/// messages, and SQS caps a message (and a `SendMessageBatch`) at 256 KiB; half of that leaves
/// room for the envelope and keeps a batch of several messages possible.
pub const MAX_BODY_BYTES: usize = 128 * 1024;
/// Largest event payload (`context` and `data` as Hookline stores and sends them). Checked
/// apart from the body: numbers are written back in full (`1e15` becomes
/// `1000000000000000.0`), so a body under the limit can make a larger payload.
pub const MAX_PAYLOAD_BYTES: usize = MAX_BODY_BYTES;
/// Events one batch request may carry (and the body limit above holds for the batch whole).
pub const MAX_BATCH_EVENTS: usize = 100;
/// Events one `form` request carries at most: a delivery batch holds up to 50 messages
/// (decision 52), and a receiver keeps getting form batches of the size it always got.
pub const MAX_FORM_BATCH: usize = 10;
/// Webhooks one tenant may have: bounds the fan-out of one event.
pub const MAX_WEBHOOKS_PER_TENANT: usize = 100;
/// Topics one webhook may subscribe to.
pub const MAX_TOPICS_PER_WEBHOOK: usize = 50;
pub const MAX_TOPIC_LEN: usize = 100;
pub const MAX_NAME_LEN: usize = 100;
pub const MAX_DESCRIPTION_LEN: usize = 500;
pub const MAX_URL_LEN: usize = 2048;
pub const MIN_SECRET_LEN: usize = 16;
pub const MAX_SECRET_LEN: usize = 256;
pub const MAX_TENANT_ID_LEN: usize = 64;
pub const MAX_EVENT_ID_LEN: usize = 128;
/// Page size of list endpoints.
pub const DEFAULT_PAGE_SIZE: usize = 20;
pub const MAX_PAGE_SIZE: usize = 100;
/// Deliveries one recover call re-sends at most (call again for more).
pub const MAX_RECOVER: usize = 1000;
/// Filters on one webhook, values in one `in`/`not_in` list, and the length of a dotted field
/// path (filters and field selection).
pub const MAX_FILTERS: usize = 20;
pub const MAX_LIST_VALUES: usize = 100;
pub const MAX_PATH_LEN: usize = 200;
/// The longest e-mail address SMTP carries (RFC 5321's 256-octet path, less its `<>`).
pub const MAX_EMAIL_LEN: usize = 254;
/// Fields one webhook may select.
pub const MAX_FIELDS: usize = 100;
/// Length of an event-name prefix (a form batch key is a topic name, `MAX_TOPIC_LEN`).
pub const MAX_EVENT_PREFIX_LEN: usize = 50;
/// Custom headers on one webhook, and the length of a header name and of one header or
/// auth value.
pub const MAX_HEADERS: usize = 20;
pub const MAX_HEADER_NAME_LEN: usize = 100;
pub const MAX_HEADER_VALUE_LEN: usize = 1024;
/// Alert recipients of one webhook.
pub const MAX_ALERT_EMAILS: usize = 10;
/// An alert window is held as an SQS visibility timeout, which SQS caps at 12 hours.
pub const MAX_ALERT_INTERVAL_MINUTES: u32 = 720;
/// A webhook's `max_per_second` (see `domain::rate`).
pub const MAX_PER_SECOND: u32 = 10_000;
pub const MAX_DISABLE_AFTER_FAILURES: u32 = 1000;
/// How long a rotated-out secret may keep signing: a week.
pub const MAX_SECRET_GRACE_MINUTES: u32 = 7 * 24 * 60;
/// Index pages one delivery-log listing or recover call reads at most: a status filter that
/// matches little makes every page short, and a request must end long before the function's
/// timeout. The answer then carries a cursor to continue from where the reading stopped.
pub const MAX_INDEX_PAGES_PER_REQUEST: usize = 10;
/// Items one filtered index page examines (DynamoDB's `Limit`, applied before the filter).
pub const FILTERED_PAGE_EXAMINES: usize = 100;
/// How long an instance remembers that an API key hash is unknown, and how many such hashes
/// it remembers: a repeated wrong key costs one read a while, and a flood of random keys
/// can't grow the memory (a full cache is emptied and starts again).
pub const UNKNOWN_KEY_CACHE_SECONDS: u64 = 60;
pub const UNKNOWN_KEY_CACHE_ENTRIES: usize = 10_000;
/// How deep an event's `context` and `data` may nest: each is an object (level 1) whose values
/// may hold objects and arrays down to this level. Every JSON the event travels in wraps it a
/// little deeper (the queue message by `task::TASK_PAYLOAD_NESTING`, a `form` body by 2) and
/// the parsers on the way stop at some depth (serde_json at `json_depth::PARSER_MAX_DEPTH`):
/// so the API refuses what the delivery path could not carry, instead of losing it there.
pub const MAX_PAYLOAD_DEPTH: usize = 64;
/// Request templates (`integration::template`): the longest template source, the most output
/// one render may write, the engine's fuel per render (about one instruction each; it also
/// bounds what a render can allocate, ~64 bytes a unit) and its nesting depth.
pub const MAX_TEMPLATE_LEN: usize = 16 * 1024;
pub const MAX_TEMPLATE_OUTPUT_BYTES: usize = 256 * 1024;
pub const TEMPLATE_FUEL: u64 = 100_000;
pub const TEMPLATE_RECURSION_LIMIT: usize = 50;
