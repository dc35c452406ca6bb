/// One thing wrong with a request, named by the field it concerns.
public struct SpecViolation: Codable, Sendable, Equatable, CustomStringConvertible {
    /// Path of the field, e.g. `resources.cpu` or `env.1PATH`; empty for the document itself.
    public var field: String
    public var message: String

    public init(field: String, message: String) {
        self.field = field
        self.message = message
    }

    public var description: String { field.isEmpty ? message : "\(field): \(message)" }
}

/// A spec that could not be read or is not valid; carries every violation found.
public struct InvalidSpecError: Error, Sendable, Equatable, CustomStringConvertible {
    public var violations: [SpecViolation]

    public init(_ violations: [SpecViolation]) { self.violations = violations }

    public var description: String { "invalid job spec: " + violations.map(\.description).joined(separator: "; ") }
}
