import Testing
import TrainyardCore

@testable import TrainyardAPI

@Suite("Query parameters")
struct QueryParametersTests {
    @Test("a parameter given once is read; an absent or unknown one is nil and no problem")
    func reads() throws {
        var parameters = QueryParameters([("team", "alpha"), ("other", "x")])
        #expect(parameters.value("team") == "alpha")
        #expect(parameters.value("backend") == nil)
        #expect(parameters.problems.isEmpty)
        try parameters.check("invalid query parameters")
    }

    @Test("a parameter given twice and a refused value are one 400 naming both, in the order found")
    func problems() {
        var parameters = QueryParameters([("tail", "1"), ("tail", "2"), ("since", "x")])
        #expect(parameters.value("tail") == nil)
        parameters.refuse("since", "must be a timestamp")
        let read = parameters
        #expect(
            throws: APIError.invalid(
                "invalid spend request",
                fields: [
                    SpecViolation(field: "tail", message: "is given 2 times; give it once"),
                    SpecViolation(field: "since", message: "must be a timestamp"),
                ])
        ) { try read.check("invalid spend request") }
    }
}
