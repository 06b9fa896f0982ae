"""gRPC front ends: TF Serving (PredictionService, ModelService) and KServe V2 (GRPCInferenceService)."""
