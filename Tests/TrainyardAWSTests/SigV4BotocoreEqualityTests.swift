import Foundation
import Testing
import TrainyardAWS
import TrainyardTesting

/// The Swift signer against botocore's SigV4Auth (an independent implementation, run through
/// `ops/test-peers/botocore_sign.py`): identical canonical requests and Authorization headers,
/// byte for byte, over generated requests with query strings, unicode paths and bodies, ragged
/// header whitespace, empty bodies, unsigned headers and session tokens.
@Suite struct SigV4BotocoreEqualityTests {
    static let seed: UInt64 = 0x5167_4A11

    struct Case: Encodable {
        var method: String
        var url: String
        var query: [[String]]
        var headers: [[String]]
        var body: String
        var accessKeyId: String
        var secretAccessKey: String
        var sessionToken: String?
        var timestamp: String
        var region: String
        var service: String
    }

    struct Reference: Decodable {
        var authorization: String
        var amzDate: String
        var securityToken: String?
        var canonicalRequest: String
    }

    @Test func signaturesMatchBotocoreByteForByte() async throws {
        var generated: [(request: AWSSigningRequest, credentials: AWSCredentials, date: Date, region: String, service: String, url: String)] = []
        for index in 0..<300 {
            var rng = SplitMix64(seed: SplitMix64.seed(Self.seed, case: index))
            generated.append(Self.generate(&rng))
        }
        let cases = generated.map { item in
            Case(
                method: item.request.method, url: item.url, query: item.request.query.map { [$0.name, $0.value] },
                headers: item.request.headers.map { [$0.name, $0.value] }, body: Data(item.request.body).base64EncodedString(),
                accessKeyId: item.credentials.accessKeyID, secretAccessKey: item.credentials.secretAccessKey,
                sessionToken: item.credentials.sessionToken, timestamp: Self.timestamp(item.date), region: item.region, service: item.service)
        }
        let output = try await TestPython.run("botocore_sign.py", input: try JSONEncoder().encode(cases))
        let references = try JSONDecoder().decode([Reference].self, from: output)
        try #require(references.count == generated.count)
        var compared = 0
        for (index, (item, reference)) in zip(generated, references).enumerated() {
            let signer = SigV4Signer(region: item.region, service: item.service)
            let headers = signer.signedHeaders(for: item.request, credentials: item.credentials, date: item.date)
            var unsignedView = item.request
            unsignedView.headers = headers.filter { $0.name != "Authorization" }
            let authorization = headers.first { $0.name == "Authorization" }?.value
            #expect(signer.canonicalRequest(unsignedView) == reference.canonicalRequest, "case \(index) (seed \(Self.seed))")
            #expect(authorization == reference.authorization, "case \(index) (seed \(Self.seed))")
            #expect(headers.first { $0.name == "X-Amz-Date" }?.value == reference.amzDate)
            #expect(headers.first { $0.name == "X-Amz-Security-Token" }?.value == reference.securityToken)
            compared += 1
        }
        #expect(compared == 300)
    }

    /// A known vector from the AWS documentation's "GET ListUsers" example (IAM, 2015-08-30).
    @Test func awsDocumentationExample() {
        let request = AWSSigningRequest(
            method: "GET", host: "iam.amazonaws.com", path: "/", query: [("Action", "ListUsers"), ("Version", "2010-05-08")],
            headers: [("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")])
        let credentials = AWSCredentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
        let headers = SigV4Signer(region: "us-east-1", service: "iam").signedHeaders(
            for: request, credentials: credentials, date: Date(timeIntervalSince1970: 1_440_938_160))
        #expect(
            headers.first { $0.name == "Authorization" }?.value
                == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
        )
    }

    // MARK: generation

    static let pieces = [
        "a", "Z", "9", "-", "_", ".", "~", " ", "+", "=", "&", "/", "%", "é", "日本", "ß", "😀", "?", "#", ":", "@", "!", "*", "'", "(", ")",
    ]

    static func text(_ rng: inout SplitMix64, maxPieces: Int, from alphabet: [String] = pieces) -> String {
        (0..<Int.random(in: 0...maxPieces, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }.joined()
    }

    static func generate(_ rng: inout SplitMix64) -> (
        request: AWSSigningRequest, credentials: AWSCredentials, date: Date, region: String, service: String, url: String
    ) {
        let (scheme, host) = [
            ("https", "api.sagemaker.us-east-1.amazonaws.com"), ("https", "sqs.eu-west-1.amazonaws.com"), ("http", "127.0.0.1:4566"),
        ]
        .randomElement(using: &rng)!
        let segments = (0..<Int.random(in: 0...4, using: &rng)).map { _ -> String in
            switch Int.random(in: 0..<8, using: &rng) {
            case 0: "."
            case 1: ".."
            case 2: ""
            default: SigV4Signer.percentEncode(text(&rng, maxPieces: 4, from: pieces.filter { $0 != "/" }), keeping: "")
            }
        }
        let path = "/" + segments.joined(separator: "/") + (Bool.random(using: &rng) ? "/" : "")
        let query = (0..<Int.random(in: 0...4, using: &rng)).map { _ in (name: text(&rng, maxPieces: 3) + "k", value: text(&rng, maxPieces: 4)) }
        let spaces = [" ", "  ", "\t", " \t "]
        var headers: [(name: String, value: String)] = []
        for index in 0..<Int.random(in: 0...3, using: &rng) {
            let words = (0..<Int.random(in: 1...3, using: &rng)).map { _ in
                text(&rng, maxPieces: 3, from: ["a", "B", "7", "-", ";", ",", "=", "/"]) + "x"
            }
            let value =
                spaces.randomElement(using: &rng)! + words.joined(separator: spaces.randomElement(using: &rng)!) + spaces.randomElement(using: &rng)!
            headers.append(("X-Trainyard-Test-\(index)", value))
        }
        if Bool.random(using: &rng) { headers.append(("Content-Type", "application/x-amz-json-1.1")) }
        if Bool.random(using: &rng) { headers.append(("User-Agent", "trainyard/\(Int.random(in: 0...9, using: &rng))")) }
        if Bool.random(using: &rng) { headers.append(("X-Amz-Target", "SageMaker.DescribeTrainingJob")) }
        let body: [UInt8] = Bool.random(using: &rng) ? [] : Array("{\"Name\":\"\(text(&rng, maxPieces: 12))\"}".utf8)
        let method = ["GET", "POST", "PUT", "DELETE", "HEAD"].randomElement(using: &rng)!
        let token: String? = Bool.random(using: &rng) ? "IQoJb3JpZ2luX2VjE+/=" + text(&rng, maxPieces: 5, from: ["A", "b", "+", "/", "="]) : nil
        let credentials = AWSCredentials(
            accessKeyID: "AKIA" + String(UInt64.random(in: 0...UInt64.max, using: &rng), radix: 36).uppercased(),
            secretAccessKey: String(UInt64.random(in: 0...UInt64.max, using: &rng), radix: 36) + "/+Ab", sessionToken: token)
        let date = Date(timeIntervalSince1970: TimeInterval(Int.random(in: 1_420_070_400...2_051_222_400, using: &rng)))
        let region = ["us-east-1", "eu-west-1", "ap-southeast-2"].randomElement(using: &rng)!
        let service = ["sagemaker", "sqs", "events"].randomElement(using: &rng)!
        return (
            AWSSigningRequest(method: method, host: host, path: path, query: query, headers: headers, body: body), credentials, date, region, service,
            "\(scheme)://\(host)\(path)"
        )
    }

    static func timestamp(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return formatter.string(from: date)
    }
}
