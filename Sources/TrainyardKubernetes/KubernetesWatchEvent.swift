import Foundation

/// One event of a watch stream: `ADDED`, `MODIFIED`, `DELETED`, `BOOKMARK` or `ERROR`.
public enum KubernetesWatchEvent<Object: Codable & Sendable>: Sendable {
    case added(Object)
    case modified(Object)
    case deleted(Object)
    /// Only the resource version matters: the stream may resume from it.
    case bookmark(resourceVersion: String?)
    /// The server ended the watch; code 410 (`Expired`/`Gone`) means the resource version is too old: relist.
    case error(KubernetesStatus)
}

/// Decodes one line of a watch stream (`{"type": …, "object": …}`).
public enum KubernetesWatchEventDecoder {
    private struct Envelope<Object: Decodable>: Decodable {
        var type: String
        var object: Object
    }

    private struct TypeOnly: Decodable {
        var type: String
    }

    private struct Bookmark: Decodable {
        var metadata: KubernetesListMeta
    }

    /// Throws on malformed JSON or an unknown event type.
    public static func decode<Object: Codable & Sendable>(_ line: [UInt8], as: Object.Type) throws -> KubernetesWatchEvent<Object> {
        let decoder = JSONDecoder()
        let data = Data(line)
        let type = try decoder.decode(TypeOnly.self, from: data).type
        switch type {
        case "ADDED": return .added(try decoder.decode(Envelope<Object>.self, from: data).object)
        case "MODIFIED": return .modified(try decoder.decode(Envelope<Object>.self, from: data).object)
        case "DELETED": return .deleted(try decoder.decode(Envelope<Object>.self, from: data).object)
        case "BOOKMARK": return .bookmark(resourceVersion: try decoder.decode(Envelope<Bookmark>.self, from: data).object.metadata.resourceVersion)
        case "ERROR": return .error(try decoder.decode(Envelope<KubernetesStatus>.self, from: data).object)
        default: throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "unknown watch event type \(type)"))
        }
    }
}

/// Splits a watch response body into lines: the server writes one JSON object per line, and
/// chunks of the body may end anywhere (mid-object, mid-UTF-8 sequence).
public struct KubernetesWatchLineSplitter: Sendable {
    private var pending: [UInt8] = []

    public init() {}

    /// Appends a chunk and returns the complete, non-empty lines it finished.
    public mutating func append(_ chunk: some Sequence<UInt8>) -> [[UInt8]] {
        pending.append(contentsOf: chunk)
        var lines: [[UInt8]] = []
        while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
            let line = Array(pending[..<newline])
            pending.removeSubrange(...newline)
            if line.contains(where: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\r") }) { lines.append(line) }
        }
        return lines
    }

    /// Bytes after the last newline (an incomplete object when the stream ended).
    public var remainder: [UInt8] { pending }
}
