import Foundation
import Yams

/// Reads a `JobSpec` from YAML or JSON text and validates it.
public enum JobSpecParser {
    /// Largest spec document accepted, in bytes.
    public static let maxDocumentBytes = 256 * 1024

    /// What `parse` does with fields of the document that a spec does not have.
    public enum UnknownFields: Sendable {
        /// Ignored, as readers of the requests topic do (a newer writer's optional fields).
        case ignored
        /// Reported as violations, as the CLI and the API do (a typo such as `maxRuntime`).
        case refused
    }

    /// Parses `data` (JSON when it starts with `{`, YAML otherwise) and validates the result.
    ///
    /// The document is read once. YAML is read by `SpecYAMLReader`, which refuses anchors,
    /// aliases, merge keys, tags and deep nesting before anything is built from the text.
    /// - Throws: `InvalidSpecError` listing every problem, with field paths.
    public static func parse(_ data: Data, unknownFields: UnknownFields = .ignored) throws(InvalidSpecError) -> JobSpec {
        guard data.count <= maxDocumentBytes else {
            throw InvalidSpecError([SpecViolation(field: "", message: "document is \(data.count) bytes; the limit is \(maxDocumentBytes)")])
        }
        let spec: JobSpec
        /// The document as plain values (mappings, lists, strings, NSNull), for the unknown-field check.
        let document: Any?
        do {
            if isJSONObject(data) {
                spec = try JSONDecoder().decode(JobSpec.self, from: data)
                document = unknownFields == .refused ? try? JSONSerialization.jsonObject(with: data) : nil
            } else {
                guard let text = String(data: data, encoding: .utf8) else {
                    throw InvalidSpecError([SpecViolation(field: "", message: "document is not UTF-8 text")])
                }
                let root = try SpecYAMLReader.read(text)
                spec = try YAMLDecoder().decode(JobSpec.self, from: root)
                document = unknownFields == .refused ? plainValue(of: root) : nil
            }
        } catch let error as InvalidSpecError {
            throw error
        } catch let error as DecodingError {
            throw InvalidSpecError([violation(for: error)])
        } catch {
            throw InvalidSpecError([SpecViolation(field: "", message: "not valid YAML or JSON: \(error)")])
        }
        var violations = JobSpecValidator.violations(of: spec)
        if let document { violations += Self.unknownFields(in: document, spec: spec) }
        guard violations.isEmpty else { throw InvalidSpecError(violations) }
        return spec
    }

    /// True when the document's first non-blank character is `{`: it is read as JSON, else as YAML.
    public static func isJSONObject(_ data: Data) -> Bool {
        data.first(where: { !$0.isWhitespaceByte }) == UInt8(ascii: "{")
    }

    /// Validates an already decoded spec.
    public static func validate(_ spec: JobSpec) throws(InvalidSpecError) {
        let violations = JobSpecValidator.violations(of: spec)
        guard violations.isEmpty else { throw InvalidSpecError(violations) }
    }

    /// A decoding error as the field it concerns and what is wrong (also used for configuration files).
    public static func violation(for error: DecodingError) -> SpecViolation {
        func path(_ codingPath: [CodingKey]) -> String {
            codingPath.map { key in key.intValue.map { "[\($0)]" } ?? ".\(key.stringValue)" }
                .joined().trimmingCharacters(in: CharacterSet(charactersIn: "."))
        }
        switch error {
        case .keyNotFound(let key, let context):
            return SpecViolation(field: path(context.codingPath + [key]), message: "is required")
        case .typeMismatch(let type, let context):
            return SpecViolation(field: path(context.codingPath), message: "must be \(describe(type))")
        case .valueNotFound(let type, let context):
            return SpecViolation(field: path(context.codingPath), message: "must be \(describe(type)), not null")
        case .dataCorrupted(let context):
            let field = path(context.codingPath)
            if let kind = context.codingPath.last?.stringValue, let options = allowedValues[kind] {
                return SpecViolation(field: field, message: "must be one of \(options)")
            }
            return SpecViolation(field: field, message: field.isEmpty ? "not valid YAML or JSON" : "has an invalid value")
        @unknown default:
            return SpecViolation(field: "", message: "\(error)")
        }
    }

    private static let allowedValues: [String: String] = [
        "kind": JobKind.allCases.map(\.rawValue).joined(separator: ", "),
        "backend": BackendChoice.allCases.map(\.rawValue).joined(separator: ", "),
    ]

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type: "an integer"
        case is Double.Type: "a number"
        case is Bool.Type: "true or false"
        case is [String].Type, is [Any].Type: "a list"
        default:
            switch String(describing: type) {
            case let name where name.hasPrefix("Dictionary") || name.hasSuffix("Mapping"): "a mapping"
            case let name where name.hasPrefix("Array") || name.hasSuffix("Sequence"): "a list"
            case let name: "a \(name)"
            }
        }
    }
}

extension UInt8 {
    fileprivate var isWhitespaceByte: Bool { self == 0x20 || self == 0x0A || self == 0x0D || self == 0x09 }
}
