import Testing
import TrainyardAWS
import TrainyardBackends

@testable import SageMakerBackend

/// What the worker is told when an AWS call fails after the client's own retries.
@Suite struct SageMakerErrorMappingTests {
    @Test func quotaIsCapacityValidationFailsWithAWSMessageTransientStaysTransient() {
        let quota = SageMakerBackend.backendError(
            AWSError(.client, code: "ResourceLimitExceeded", message: "limit is 2 instances", statusCode: 400), action: "CreateTrainingJob")
        #expect(quota.kind == .capacity)
        let invalid = SageMakerBackend.backendError(
            AWSError(.client, code: "ValidationException", message: "1 validation error detected: Value 'ml.x' at 'resourceConfig.instanceType'"),
            action: "CreateTrainingJob")
        #expect(invalid.kind == .invalidRequest)
        #expect(
            invalid.message == "CreateTrainingJob: ValidationException: 1 validation error detected: Value 'ml.x' at 'resourceConfig.instanceType'")
        for kind in [AWSError.Kind.throttled, .serverError, .connection] {
            #expect(SageMakerBackend.backendError(AWSError(kind, code: "X", message: "m"), action: "DescribeTrainingJob").kind == .transient)
        }
    }

    @Test func notFoundIsRecognisedInBothShapes() {
        #expect(SageMakerAPI.isNotFound(AWSError(.client, code: "ValidationException", message: "Requested resource not found.")))
        #expect(SageMakerAPI.isNotFound(AWSError(.client, code: "ValidationException", message: "Could not find training job 'arn:…'.")))
        #expect(SageMakerAPI.isNotFound(AWSError(.client, code: "ResourceNotFound", message: "x")))
        #expect(!SageMakerAPI.isNotFound(AWSError(.client, code: "ValidationException", message: "1 validation error detected")))
        #expect(!SageMakerAPI.isNotFound(AWSError(.serverError, code: "InternalFailure", message: "not found")))
    }
}
