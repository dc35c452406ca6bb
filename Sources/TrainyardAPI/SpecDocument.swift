import Foundation
import Hummingbird
import TrainyardCore

/// Turns the body of `POST /v1/jobs` into a validated spec, or a 4xx with field-level messages.
enum SpecDocument {
    /// The media types accepted for a spec.
    static let jsonTypes: Set<String> = ["application/json"]
    static let yamlTypes: Set<String> = ["application/yaml", "application/x-yaml", "text/yaml"]

    /// Parses `body` sent with `contentType` (nil: told apart by its first character, as the CLI does).
    static func parse(_ body: Data, contentType: String?) throws(APIError) -> JobSpec {
        let mediaType = contentType.map(Self.mediaType(of:))
        let isJSON: Bool
        switch mediaType {
        case .some(let type) where jsonTypes.contains(type): isJSON = true
        case .some(let type) where yamlTypes.contains(type): isJSON = false
        case .none: isJSON = JobSpecParser.isJSONObject(body)
        case .some(let type):
            throw APIError(
                .unsupportedMediaType, "unsupported_media_type",
                "Content-Type \(type.isEmpty ? "(empty)" : String(type.prefix(100))) is not accepted; send application/json or application/yaml")
        }
        guard !body.isEmpty else {
            throw APIError.invalid("the body is empty; send a job spec", fields: [SpecViolation(field: "", message: "is required")])
        }
        if isJSON, !JobSpecParser.isJSONObject(body) {
            throw APIError.invalid(
                "the body must be a JSON object (a job spec)", fields: [SpecViolation(field: "", message: "must be a JSON object")])
        }
        do {
            return try JobSpecParser.parse(body, unknownFields: .refused)
        } catch {
            throw APIError.invalid("invalid job spec", fields: error.violations)
        }
    }

    /// The media type of a Content-Type value, lowercased, without parameters: `""` for an empty
    /// value or one that is only parameters (`;`).
    static func mediaType(of contentType: String) -> String {
        let type = contentType.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        return type.trimmingCharacters(in: .whitespaces).lowercased()
    }
}
