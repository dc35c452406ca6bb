import TrainyardCore

/// A request's query parameters, read by name, collecting what is wrong with them (a parameter
/// given more than once, or a value its reader refused) so that one 400 names every problem.
/// Parameters nobody reads are ignored.
struct QueryParameters {
    private let pairs: [(name: String, value: String)]
    /// What was wrong, in the order found.
    private(set) var problems: [SpecViolation] = []

    /// - Parameter pairs: the query's (name, value) pairs, values percent-decoded.
    init(_ pairs: [(name: String, value: String)]) {
        self.pairs = pairs
    }

    /// The value of `name`; nil when it is absent, or given more than once (a problem).
    mutating func value(_ name: String) -> String? {
        let values = pairs.filter { $0.name == name }.map(\.value)
        guard let first = values.first else { return nil }
        guard values.count == 1 else {
            refuse(name, "is given \(values.count) times; give it once")
            return nil
        }
        return first
    }

    /// Records that the value of `field` was refused, and why.
    mutating func refuse(_ field: String, _ message: String) {
        problems.append(SpecViolation(field: field, message: message))
    }

    /// A 400 (`summary`, with every problem by field) when there was a problem.
    func check(_ summary: String) throws(APIError) {
        guard problems.isEmpty else { throw APIError.invalid(summary, fields: problems) }
    }
}
