import TrainyardCore

extension TopicNames {
    /// Quota claims and releases of the whole fleet; read whole by every worker, written to
    /// partition 0 only (docs/fair-share.md).
    public var quotaClaims: String { "\(prefix).quota-claims" }
}
