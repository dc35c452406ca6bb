import Foundation
import TrainyardCore
import TrainyardStore

/// The query of `GET /v1/jobs` (and the dashboard's filters), checked field by field.
///
/// Parameters: team, state, backend, kind, label (`key=value`), createdSince (RFC 3339), limit
/// (1…500, default 50), cursor. Unknown parameters are ignored; a known one given twice or
/// empty is a 400.
struct ListParameters {
    static let defaultLimit = 50
    static let maxLimit = 500

    var query = JobQuery(limit: defaultLimit)

    /// - Parameter pairs: the query's (name, value) pairs, values percent-decoded.
    init(_ pairs: [(name: String, value: String)]) throws(APIError) {
        var parameters = QueryParameters(pairs)
        func value(_ name: String) -> String? {
            guard let value = parameters.value(name) else { return nil }
            guard !value.isEmpty else {
                parameters.refuse(name, "is empty; leave it out to not filter on it")
                return nil
            }
            return value
        }
        query.team = value("team")
        query.backend = value("backend")
        if let state = value("state") {
            if let parsed = JobState(rawValue: state.uppercased()) {
                query.state = parsed
            } else {
                parameters.refuse("state", "must be one of \(JobState.allCases.map(\.rawValue).joined(separator: ", "))")
            }
        }
        if let kind = value("kind") {
            if JobKind(rawValue: kind) != nil {
                query.kind = kind
            } else {
                parameters.refuse("kind", "must be one of \(JobKind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
        }
        if let label = value("label") {
            if let equals = label.firstIndex(of: "="), equals != label.startIndex {
                query.label = (String(label[..<equals]), String(label[label.index(after: equals)...]))
            } else {
                parameters.refuse("label", "must be key=value")
            }
        }
        if let since = value("createdSince") {
            if let date = WireFormat.parseTimestamp(since) {
                query.createdSince = date
            } else {
                parameters.refuse("createdSince", "must be an RFC 3339 timestamp, e.g. 2026-11-29T04:05:06Z")
            }
        }
        if let limit = value("limit") {
            if let number = Int(limit), (1...Self.maxLimit).contains(number) {
                query.limit = number
            } else {
                parameters.refuse("limit", "must be an integer from 1 to \(Self.maxLimit)")
            }
        }
        if let cursor = value("cursor") {
            if let after = PageCursor.decode(cursor) {
                query.before = after
            } else {
                parameters.refuse("cursor", "is not a cursor this server returned")
            }
        }
        try parameters.check("invalid query parameters")
    }

}

/// Opaque page cursors: the last job id of a page, versioned and base64url-encoded.
enum PageCursor {
    static func encode(after id: JobID) -> String {
        Data("v1:\(id.rawValue)".utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decode(_ text: String) -> JobID? {
        guard text.count <= 64 else { return nil }
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        guard let data = Data(base64Encoded: base64), let plain = String(data: data, encoding: .utf8), plain.hasPrefix("v1:") else { return nil }
        return JobID(String(plain.dropFirst(3)))
    }
}
