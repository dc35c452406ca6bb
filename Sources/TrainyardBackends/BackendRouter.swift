import TrainyardCore

/// Chooses the backend for a job: an explicit choice in the spec wins when that backend is
/// configured; `auto` follows the per-kind rules, then the default.
public struct BackendRouter: Sendable {
    public var backends: [String: any ComputeBackend]
    /// Job kind → backend name, for specs that say `auto`.
    public var kindRules: [JobKind: String]
    public var defaultBackend: String

    public init(backends: [any ComputeBackend], kindRules: [JobKind: String] = [:], defaultBackend: String) {
        self.backends = Dictionary(backends.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.kindRules = kindRules
        self.defaultBackend = defaultBackend
    }

    /// The backend for `spec`, or why there is none.
    public func route(_ spec: JobSpec) -> Result<any ComputeBackend, BackendError> {
        let name = spec.backend == .auto ? (kindRules[spec.kind] ?? defaultBackend) : spec.backend.rawValue
        guard let backend = backends[name] else {
            let available = backends.keys.sorted().joined(separator: ", ")
            return .failure(BackendError(.invalidRequest, "backend \"\(name)\" is not configured on this fleet (available: \(available))"))
        }
        return .success(backend)
    }
}
