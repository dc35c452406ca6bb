/// A failed API call, classified by what the caller should do about it.
public struct KubernetesError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// Credentials, kubeconfig or RBAC are wrong: an operator must fix the configuration.
        case configuration
        /// 404: the object does not exist.
        case notFound
        /// 409 AlreadyExists on create: adopt the existing object.
        case alreadyExists
        /// 410: the resource version is too old; relist.
        case gone
        /// 422 and other 4xx: the request can never succeed as written.
        case invalid
        /// 403 for exceeding a ResourceQuota: capacity, try later.
        case quotaExceeded
        /// 429, 5xx, timeouts, connection failures: retrying can help.
        case transient
    }

    public var kind: Kind
    public var message: String
    /// The HTTP status, when there was a response.
    public var statusCode: Int?

    public init(_ kind: Kind, _ message: String, statusCode: Int? = nil) {
        self.kind = kind
        self.message = message
        self.statusCode = statusCode
    }

    public var description: String { "\(kind.rawValue): \(message)" }

    /// Maps an error response to a kind. `verb` and `resource` make a 403 name the missing RBAC rule.
    public static func from(statusCode: Int, status: KubernetesStatus?, verb: String, resource: String, namespace: String?) -> KubernetesError {
        let message = status?.message ?? "HTTP \(statusCode)"
        let kind: Kind
        switch statusCode {
        case 401:
            return KubernetesError(.configuration, "the API server rejected the credentials (401 Unauthorized): \(message)", statusCode: statusCode)
        case 403 where message.contains("exceeded quota"):
            kind = .quotaExceeded
        case 403:
            let scope = namespace.map { "in namespace \"\($0)\"" } ?? "cluster-wide"
            return KubernetesError(
                .configuration,
                "RBAC: the service account may not \"\(verb)\" \(resource) \(scope); grant the verb \"\(verb)\" on \(resource) (see ops/k8s/rbac.yaml): \(message)",
                statusCode: statusCode)
        case 404: kind = .notFound
        case 409 where status?.reason == "AlreadyExists" || status?.reason == nil: kind = .alreadyExists
        case 410: kind = .gone
        case 408, 429, 500...599: kind = .transient
        default: kind = .invalid
        }
        return KubernetesError(kind, "\(verb) \(resource): \(message)", statusCode: statusCode)
    }
}
