import Foundation
import Hummingbird
import TrainyardCore
import Yams

/// Turns the body of `POST /v1/jobs` into a validated spec, or a 4xx with field-level messages.
enum SpecDocument {
    /// The media types accepted for a spec.
    static let jsonTypes: Set<String> = ["application/json"]
    static let yamlTypes: Set<String> = ["application/yaml", "application/x-yaml", "text/yaml"]

    /// Parses `body` sent with `contentType` (nil: told apart by its first character, as the CLI does).
    static func parse(_ body: Data, contentType: String?) throws(APIError) -> JobSpec {
        let mediaType = contentType.map { $0.split(separator: ";")[0].trimmingCharacters(in: .whitespaces).lowercased() }
        let isJSON: Bool
        switch mediaType {
        case .some(let type) where jsonTypes.contains(type): isJSON = true
        case .some(let type) where yamlTypes.contains(type): isJSON = false
        case .none: isJSON = body.first(where: { !Character(UnicodeScalar($0)).isWhitespace }) == UInt8(ascii: "{")
        case .some(let type):
            throw APIError(
                .unsupportedMediaType, "unsupported_media_type",
                "Content-Type \(type) is not accepted; send application/json or application/yaml")
        }
        guard !body.isEmpty else {
            throw APIError.invalid("the body is empty; send a job spec", fields: [SpecViolation(field: "", message: "is required")])
        }
        if isJSON, body.first(where: { !Character(UnicodeScalar($0)).isWhitespace }) != UInt8(ascii: "{") {
            throw APIError.invalid(
                "the body must be a JSON object (a job spec)", fields: [SpecViolation(field: "", message: "must be a JSON object")])
        }
        let spec: JobSpec
        do {
            spec = try JobSpecParser.parse(body)
        } catch {
            throw APIError.invalid("invalid job spec", fields: error.violations)
        }
        let unknown = unknownFields(in: body, isJSON: isJSON, spec: spec)
        guard unknown.isEmpty else { throw APIError.invalid("invalid job spec", fields: unknown) }
        return spec
    }

    /// Fields of the document that the spec does not have (typos such as `maxRuntime`), found by
    /// comparing the document with the decoded spec encoded back: what the spec kept is known.
    static func unknownFields(in body: Data, isJSON: Bool, spec: JobSpec) -> [SpecViolation] {
        let document: Any?
        if isJSON {
            document = try? JSONSerialization.jsonObject(with: body)
        } else {
            document = (try? Yams.load(yaml: String(decoding: body, as: UTF8.self))) ?? nil
        }
        guard let document, let encoded = try? WireFormat.encoder().encode(spec), let canonical = try? JSONSerialization.jsonObject(with: encoded)
        else { return [] }
        var violations: [SpecViolation] = []
        walk(document, canonical, path: "", into: &violations)
        return violations
    }

    private static func walk(_ document: Any, _ canonical: Any, path: String, into violations: inout [SpecViolation]) {
        if let mapping = stringKeyed(document), let known = canonical as? [String: Any] {
            for key in mapping.keys.sorted() {
                guard let value = mapping[key], !isNull(value) else { continue }
                let field = path.isEmpty ? key : "\(path).\(key)"
                if let knownValue = known[key] {
                    walk(value, knownValue, path: field, into: &violations)
                } else {
                    violations.append(SpecViolation(field: field, message: "is not a field of a job spec"))
                }
            }
        } else if let list = document as? [Any], let knownList = canonical as? [Any] {
            for (index, (value, knownValue)) in zip(list, knownList).enumerated() {
                walk(value, knownValue, path: "\(path)[\(index)]", into: &violations)
            }
        }
    }

    private static func stringKeyed(_ value: Any) -> [String: Any]? {
        if let mapping = value as? [String: Any] { return mapping }
        if let mapping = value as? [AnyHashable: Any] {
            return Dictionary(mapping.map { ("\($0.key)", $0.value) }, uniquingKeysWith: { first, _ in first })
        }
        return nil
    }

    private static func isNull(_ value: Any) -> Bool { value is NSNull || String(describing: value) == "nil" }
}
