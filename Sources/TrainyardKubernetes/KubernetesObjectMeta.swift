import Foundation

/// `metadata` of a Kubernetes object: the fields Trainyard reads or writes.
public struct KubernetesObjectMeta: Codable, Sendable, Equatable {
    public var name: String?
    public var namespace: String?
    public var labels: [String: String]?
    public var annotations: [String: String]?
    public var uid: String?
    /// Opaque; compared only for equality and passed back to list/watch.
    public var resourceVersion: String?
    /// RFC 3339.
    public var creationTimestamp: String?
    /// Set once deletion started (the object may linger for finalizers).
    public var deletionTimestamp: String?

    public init(name: String? = nil, namespace: String? = nil, labels: [String: String]? = nil, annotations: [String: String]? = nil) {
        self.name = name
        self.namespace = namespace
        self.labels = labels
        self.annotations = annotations
    }
}

/// `metadata` of a list or watch bookmark.
public struct KubernetesListMeta: Codable, Sendable, Equatable {
    public var resourceVersion: String?
}

/// A list response (`JobList`, `PodList`).
public struct KubernetesList<Item: Codable & Sendable>: Codable, Sendable {
    public var metadata: KubernetesListMeta
    public var items: [Item]
}

/// `meta/v1 Status`: what the API server answers on errors (and inside watch `ERROR` events).
public struct KubernetesStatus: Codable, Sendable, Equatable {
    public var status: String?
    public var message: String?
    /// Machine-readable: `AlreadyExists`, `NotFound`, `Expired`, `Forbidden`, `Invalid`…
    public var reason: String?
    public var code: Int?
    public var details: Details?

    /// Which object and verb an error is about.
    public struct Details: Codable, Sendable, Equatable {
        public var name: String?
        public var group: String?
        public var kind: String?
    }

    public init(status: String? = nil, message: String? = nil, reason: String? = nil, code: Int? = nil) {
        self.status = status
        self.message = message
        self.reason = reason
        self.code = code
    }
}

/// Kubernetes timestamps: RFC 3339, with optional fractional seconds (`MicroTime`).
public enum KubernetesTime {
    /// Nil for an absent or malformed timestamp.
    public static func parse(_ text: String?) -> Date? {
        guard let text else { return nil }
        if let date = try? Date(text, strategy: .iso8601) { return date }
        return try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}
