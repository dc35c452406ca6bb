import Testing

@testable import TrainyardAWS

@Suite struct AWSRetryAndErrorTests {
    @Test func fullJitterStaysUnderTheExponentialCeilingAndTheCap() {
        let policy = AWSRetryPolicy(maxAttempts: 10, baseDelay: .milliseconds(100), maxDelay: .seconds(2))
        #expect(policy.delay(beforeRetry: 1, random: 1) == .milliseconds(100))
        #expect(policy.delay(beforeRetry: 3, random: 1) == .milliseconds(400))
        #expect(policy.delay(beforeRetry: 3, random: 0.5) == .milliseconds(200))
        #expect(policy.delay(beforeRetry: 9, random: 1) == .seconds(2))
        #expect(policy.delay(beforeRetry: 60, random: 1) == .seconds(2))
        #expect(policy.delay(beforeRetry: 4, random: 0) == .zero)
        for retry in 1...12 {
            let delay = policy.delay(beforeRetry: retry)
            #expect(delay >= .zero && delay <= .seconds(2))
        }
    }

    @Test func errorsAreClassifiedByCodeAndStatus() {
        let throttled = AWSError.fromResponse(
            status: 400, headerType: nil, body: Array(#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.utf8))
        #expect(throttled.kind == .throttled && throttled.code == "ThrottlingException" && throttled.message == "Rate exceeded")
        let sqs = AWSError.fromResponse(
            status: 400, headerType: nil, body: Array(#"{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"no"}"#.utf8))
        #expect(sqs.kind == .client && sqs.code == "QueueDoesNotExist")
        let header = AWSError.fromResponse(status: 400, headerType: "ResourceInUse:http://internal.amazon.com/", body: [])
        #expect(header.kind == .client && header.code == "ResourceInUse")
        let server = AWSError.fromResponse(status: 503, headerType: nil, body: Array("<html>busy</html>".utf8))
        #expect(server.kind == .serverError && server.isRetryable)
        let quota = AWSError.fromResponse(status: 400, headerType: nil, body: Array(#"{"__type":"ResourceLimitExceeded","Message":"quota"}"#.utf8))
        #expect(quota.kind == .client && !quota.isRetryable && quota.message == "quota")
    }
}

@Suite struct AWSXMLErrorTests {
    @Test func xmlErrorDocumentsAreUnderstood() {
        let body =
            "<?xml version=\"1.0\"?><ErrorResponse><Errors><Error><Code>SignatureDoesNotMatch</Code><Message>bad signature</Message></Error></Errors></ErrorResponse>"
        let error = AWSError.fromResponse(status: 403, headerType: nil, body: Array(body.utf8))
        #expect(error.code == "SignatureDoesNotMatch" && error.message == "bad signature" && error.kind == .client)
    }
}
