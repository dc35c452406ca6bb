import Foundation
import Yams

/// Unknown fields in a spec document: user-facing entry points (the CLI, the API) refuse them so
/// a typo such as `maxRuntime` is an error, not a silently ignored setting. Readers of the
/// requests topic stay lenient, so a newer writer's optional fields do not break older workers.
extension JobSpecParser {
    /// Fields of the document that the spec does not have (typos such as `maxRuntime`), found by
    /// comparing the document with the decoded spec encoded back: what the spec kept is known.
    public static func unknownFields(in body: Data, spec: JobSpec) -> [SpecViolation] {
        let document: Any?
        if isJSONObject(body) {
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
