# An endpoint and its scaling, declared with the Terraform AWS provider and
# served by ebb. Start a server (bin/ebb server), then:
#
#   terraform init && terraform apply
#
# See README.md beside this file for an offline provider mirror, and for
# what each resource becomes in ebb. TestTerraform applies this file, checks
# that a second plan shows no changes, changes max_capacity and target_value
# in place, imports the endpoint and its scalable target, and destroys it.

terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0"
    }
  }
}

variable "endpoint_url" {
  description = "ebb's URL: every API is served on its one listener"
  default     = "http://127.0.0.1:8080"
}

variable "max_capacity" {
  description = "most instances the endpoint scales out to"
  default     = 4
}

variable "target_value" {
  description = "invocations per instance per minute that target tracking holds"
  default     = 70
}

provider "aws" {
  region                      = "us-east-1"
  access_key                  = "test" # any key will do unless ebb runs with --credentials
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  endpoints {
    sagemaker              = var.endpoint_url
    applicationautoscaling = var.endpoint_url
    cloudwatch             = var.endpoint_url
    sts                    = var.endpoint_url
  }
}

locals {
  role = "arn:aws:iam::123456789012:role/ebb"
  # With --runtime process an image is a command line; with --runtime
  # kubernetes it is a container image serving the SageMaker contract.
  image = "ebb example-model --work-ms 1"
}

# A model of one container, and one of two containers in a serial pipeline.
resource "aws_sagemaker_model" "one" {
  name               = "tf-one"
  execution_role_arn = local.role
  primary_container {
    image = local.image
  }
}

resource "aws_sagemaker_model" "pipeline" {
  name               = "tf-pipeline"
  execution_role_arn = local.role
  container {
    image              = local.image
    container_hostname = "first"
  }
  container {
    image              = local.image
    container_hostname = "second"
  }
  inference_execution_config {
    mode = "Serial"
  }
}

# Real-time, with the router's only strategy named explicitly.
resource "aws_sagemaker_endpoint_configuration" "realtime" {
  name = "tf-realtime"
  production_variants {
    variant_name           = "AllTraffic"
    model_name             = aws_sagemaker_model.one.name
    instance_type          = "ml.m5.large"
    initial_instance_count = 1
    routing_config {
      routing_strategy = "LEAST_OUTSTANDING_REQUESTS"
    }
  }
  tags = { team = "ml" }
}

# Asynchronous: results go to ebb's own S3 API.
resource "aws_sagemaker_endpoint_configuration" "async" {
  name = "tf-async"
  production_variants {
    variant_name           = "AllTraffic"
    model_name             = aws_sagemaker_model.one.name
    instance_type          = "ml.m5.large"
    initial_instance_count = 1
  }
  async_inference_config {
    client_config {
      max_concurrent_invocations_per_instance = 4
    }
    output_config {
      s3_output_path = "s3://tf-results/out"
    }
  }
}

resource "aws_sagemaker_endpoint_configuration" "pipeline" {
  name = "tf-pipeline"
  production_variants {
    variant_name           = "AllTraffic"
    model_name             = aws_sagemaker_model.pipeline.name
    instance_type          = "ml.m5.large"
    initial_instance_count = 1
  }
}

resource "aws_sagemaker_endpoint" "realtime" {
  name                 = "tf-realtime"
  endpoint_config_name = aws_sagemaker_endpoint_configuration.realtime.name
}

resource "aws_sagemaker_endpoint" "async" {
  name                 = "tf-async"
  endpoint_config_name = aws_sagemaker_endpoint_configuration.async.name
}

resource "aws_sagemaker_endpoint" "pipeline" {
  name                 = "tf-pipeline"
  endpoint_config_name = aws_sagemaker_endpoint_configuration.pipeline.name
}

# Scaling: the real-time variant is a scalable target with three policies
# and a schedule.
resource "aws_appautoscaling_target" "realtime" {
  service_namespace  = "sagemaker"
  resource_id        = "endpoint/${aws_sagemaker_endpoint.realtime.name}/variant/AllTraffic"
  scalable_dimension = "sagemaker:variant:DesiredInstanceCount"
  min_capacity       = 1
  max_capacity       = var.max_capacity
}

# Target tracking on a predefined metric, as the AWS blog sets it up.
resource "aws_appautoscaling_policy" "invocations" {
  name               = "tf-invocations"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.realtime.service_namespace
  resource_id        = aws_appautoscaling_target.realtime.resource_id
  scalable_dimension = aws_appautoscaling_target.realtime.scalable_dimension
  target_tracking_scaling_policy_configuration {
    target_value       = var.target_value
    scale_in_cooldown  = 300
    scale_out_cooldown = 60
    predefined_metric_specification {
      predefined_metric_type = "SageMakerVariantInvocationsPerInstance"
    }
  }
}

# Target tracking on a customized metric computed with metric math.
resource "aws_appautoscaling_policy" "math" {
  name               = "tf-math"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.realtime.service_namespace
  resource_id        = aws_appautoscaling_target.realtime.resource_id
  scalable_dimension = aws_appautoscaling_target.realtime.scalable_dimension
  target_tracking_scaling_policy_configuration {
    target_value     = 50
    disable_scale_in = true
    customized_metric_specification {
      metrics {
        id          = "invocations"
        return_data = false
        metric_stat {
          stat = "Sum"
          metric {
            namespace   = "AWS/SageMaker"
            metric_name = "Invocations"
            dimensions {
              name  = "EndpointName"
              value = aws_sagemaker_endpoint.realtime.name
            }
            dimensions {
              name  = "VariantName"
              value = "AllTraffic"
            }
          }
        }
      }
      metrics {
        id          = "share"
        expression  = "invocations / 4"
        label       = "a quarter of the invocations"
        return_data = true
      }
    }
  }
}

# Step scaling, driven by the alarm below.
resource "aws_appautoscaling_policy" "step" {
  name               = "tf-step"
  policy_type        = "StepScaling"
  service_namespace  = aws_appautoscaling_target.realtime.service_namespace
  resource_id        = aws_appautoscaling_target.realtime.resource_id
  scalable_dimension = aws_appautoscaling_target.realtime.scalable_dimension
  step_scaling_policy_configuration {
    adjustment_type         = "ChangeInCapacity"
    cooldown                = 60
    metric_aggregation_type = "Average"
    step_adjustment {
      metric_interval_lower_bound = 0
      metric_interval_upper_bound = 10
      scaling_adjustment          = 1
    }
    step_adjustment {
      metric_interval_lower_bound = 10
      scaling_adjustment          = 2
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "burst" {
  alarm_name          = "tf-burst"
  alarm_description   = "Step out on a burst of invocations"
  comparison_operator = "GreaterThanOrEqualToThreshold"
  evaluation_periods  = 2
  metric_name         = "Invocations"
  namespace           = "AWS/SageMaker"
  period              = 60
  statistic           = "Sum"
  threshold           = 100
  dimensions = {
    EndpointName = aws_sagemaker_endpoint.realtime.name
    VariantName  = "AllTraffic"
  }
  alarm_actions = [aws_appautoscaling_policy.step.arn]
}

# An alarm on metric math: the share of invocations that failed.
resource "aws_cloudwatch_metric_alarm" "errors" {
  alarm_name          = "tf-error-rate"
  comparison_operator = "GreaterThanThreshold"
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  threshold           = 5
  treat_missing_data  = "notBreaching"
  metric_query {
    id          = "rate"
    expression  = "100 * errors / invocations"
    label       = "error rate"
    return_data = true
  }
  metric_query {
    id = "errors"
    metric {
      metric_name = "Invocation5XXErrors"
      namespace   = "AWS/SageMaker"
      period      = 60
      stat        = "Sum"
      dimensions = {
        EndpointName = aws_sagemaker_endpoint.realtime.name
        VariantName  = "AllTraffic"
      }
    }
  }
  metric_query {
    id = "invocations"
    metric {
      metric_name = "Invocations"
      namespace   = "AWS/SageMaker"
      period      = 60
      stat        = "Sum"
      dimensions = {
        EndpointName = aws_sagemaker_endpoint.realtime.name
        VariantName  = "AllTraffic"
      }
    }
  }
}

# Fewer instances over the holidays, from Christmas Eve 22:00 Berlin time.
# (When it runs, it sets the target's max_capacity, and the next plan shows
# the difference from this file, as it would on AWS: TestTerraform runs 60
# times faster, and a nightly schedule would fire inside it some evenings.)
resource "aws_appautoscaling_scheduled_action" "night" {
  name               = "tf-night"
  service_namespace  = aws_appautoscaling_target.realtime.service_namespace
  resource_id        = aws_appautoscaling_target.realtime.resource_id
  scalable_dimension = aws_appautoscaling_target.realtime.scalable_dimension
  schedule           = "cron(0 22 24 12 ? *)"
  timezone           = "Europe/Berlin"
  scalable_target_action {
    min_capacity = 1
    max_capacity = 2
  }
}
