import Foundation
import Yams

/// Unknown fields in a spec document: user-facing entry points (the CLI, the API) refuse them so
/// a typo such as `maxRuntime` is an error, not a silently ignored setting. Readers of the
/// requests topic stay lenient, so a newer writer's optional fields do not break older workers.
extension JobSpecParser {
    /// Fields of the document that the spec does not have (typos such as `maxRuntime`), found by
    /// comparing the document (plain values) with the decoded spec encoded back: what the spec kept is known.
    static func unknownFields(in document: Any, spec: JobSpec) -> [SpecViolation] {
        guard let encoded = try? WireFormat.encoder().encode(spec), let canonical = try? JSONSerialization.jsonObject(with: encoded) else {
            return []
        }
        var violations: [SpecViolation] = []
        walk(document, canonical, path: "", into: &violations)
        return violations
    }

    /// A YAML tree as plain values: mappings with text keys, lists, strings and NSNull for null.
    static func plainValue(of node: Node) -> Any {
        switch node {
        case .mapping(let mapping):
            var values: [String: Any] = [:]
            for (key, value) in mapping { values[key.string ?? ""] = plainValue(of: value) }
            return values
        case .sequence(let sequence): return sequence.map(plainValue(of:))
        case .scalar(let scalar): return node.null == nil ? scalar.string : NSNull()
        case .alias: return NSNull()
        }
    }

    private static func walk(_ document: Any, _ canonical: Any, path: String, into violations: inout [SpecViolation]) {
        if let mapping = document as? [String: Any], let known = canonical as? [String: Any] {
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

    private static func isNull(_ value: Any) -> Bool { value is NSNull }
}
