//! The simulators' options, shared by `i2k sim`, `demo` and `bench`: defined here, beside what
//! they configure, so the simulators name nothing above them; the command line flattens them.

/// Options of the simulators, shared by `sim`, `demo` and `bench`.
#[derive(Debug, Clone, clap::Args)]
pub struct SimOptions {
    /// Seed of the generated workspace (same seed, same workspace).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Intercom requests allowed per 10-second window (1,667 ≈ 10,000/min).
    #[arg(long, default_value_t = 1667)]
    pub intercom_rate: u32,
    /// Kustomer org-wide requests allowed per 60 seconds (Enterprise: 1,000).
    #[arg(long, default_value_t = 1000)]
    pub kustomer_rate: u32,
    /// Latency added to every API response, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Longest time a Kustomer bulk job takes to complete, in milliseconds.
    #[arg(long, default_value_t = 2000)]
    pub bulk_delay_ms: u64,
    /// Delay before a new Kustomer record is visible to search, in milliseconds.
    #[arg(long, default_value_t = 120_000)]
    pub indexing_delay_ms: u64,
    /// Seconds an idle Intercom companies scroll stays open.
    #[arg(long, default_value_t = 60)]
    pub scroll_idle_secs: u64,
    /// Injected faults, e.g. `5xx=0.05,timeout=0.02,reset=0.01,429=0.01,malformed=0.005`
    /// (`429bare`: a 429 with no rate-limit headers)
    /// (prefix a kind with `intercom.` or `kustomer.` to limit it to one side).
    #[arg(long, default_value = "")]
    pub faults: String,
    /// How long an injected timeout holds its answer, in milliseconds.
    #[arg(long, default_value_t = 30_000)]
    pub fault_hang_ms: u64,
    /// The largest JSON request body the Kustomer simulator accepts (larger: 413).
    #[arg(long, default_value_t = super::kustomer::DEFAULT_MAX_BODY_BYTES)]
    pub kustomer_max_body_bytes: usize,
    /// Plant pathological records among the normal ones (bad times, control characters, huge
    /// and malformed HTML, missing authors, duplicate emails, …); the ground truth says what
    /// each should become.
    #[arg(long)]
    pub hostile: bool,
    /// Accept any body field on the Kustomer side (by default a field Kustomer's published
    /// request type for the route does not allow is a 400 naming it).
    #[arg(long)]
    pub lenient_bodies: bool,
    /// The Kustomer key lacks `org.admin`: message and note `createdAt`/`createdBy` are silently
    /// replaced by now and the key's user.
    #[arg(long)]
    pub no_org_admin: bool,
    /// The Kustomer org has no `POST /v1/tags` route (404).
    #[arg(long)]
    pub no_tags_route: bool,
    /// Answer `GET /v1/bulk/{id}/batches` as a bare JSON array.
    #[arg(long)]
    pub batches_as_array: bool,
    /// The status a Kustomer create refused for a duplicate externalId answers (e.g. 400, 422).
    #[arg(long, default_value_t = 409)]
    pub duplicate_status: u16,
    /// Another brand of the Kustomer org, with its own knowledge base (repeatable): an org
    /// with several knowledge bases, where the migration must be told which one the help
    /// center goes to.
    #[arg(long, value_name = "NAME")]
    pub extra_brand: Vec<String>,
}
