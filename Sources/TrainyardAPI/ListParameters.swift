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

    /// - Parameter parameters: the query's (name, value) pairs, values percent-decoded.
    init(_ parameters: [(name: String, value: String)]) throws(APIError) {
        var problems: [SpecViolation] = []
        func value(_ name: String) -> String? {
            let values = parameters.filter { $0.name == name }.map(\.value)
            guard let first = values.first else { return nil }
            if values.count > 1 {
                problems.append(SpecViolation(field: name, message: "is given \(values.count) times; give it once"))
                return nil
            }
            guard !first.isEmpty else {
                problems.append(SpecViolation(field: name, message: "is empty; leave it out to not filter on it"))
                return nil
            }
            return String(first)
        }
        query.team = value("team")
        query.backend = value("backend")
        if let state = value("state") {
            if let parsed = JobState(rawValue: state.uppercased()) {
                query.state = parsed
            } else {
                problems.append(SpecViolation(field: "state", message: "must be one of \(JobState.allCases.map(\.rawValue).joined(separator: ", "))"))
            }
        }
        if let kind = value("kind") {
            if JobKind(rawValue: kind) != nil {
                query.kind = kind
            } else {
                problems.append(SpecViolation(field: "kind", message: "must be one of \(JobKind.allCases.map(\.rawValue).joined(separator: ", "))"))
            }
        }
        if let label = value("label") {
            if let equals = label.firstIndex(of: "="), equals != label.startIndex {
                query.label = (String(label[..<equals]), String(label[label.index(after: equals)...]))
            } else {
                problems.append(SpecViolation(field: "label", message: "must be key=value"))
            }
        }
        if let since = value("createdSince") {
            if let date = WireFormat.parseTimestamp(since) {
                query.createdSince = date
            } else {
                problems.append(SpecViolation(field: "createdSince", message: "must be an RFC 3339 timestamp, e.g. 2026-11-29T04:05:06Z"))
            }
        }
        if let limit = value("limit") {
            if let number = Int(limit), (1...Self.maxLimit).contains(number) {
                query.limit = number
            } else {
                problems.append(SpecViolation(field: "limit", message: "must be an integer from 1 to \(Self.maxLimit)"))
            }
        }
        if let cursor = value("cursor") {
            if let after = PageCursor.decode(cursor) {
                query.before = after
            } else {
                problems.append(SpecViolation(field: "cursor", message: "is not a cursor this server returned"))
            }
        }
        guard problems.isEmpty else { throw APIError.invalid("invalid query parameters", fields: problems) }
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
