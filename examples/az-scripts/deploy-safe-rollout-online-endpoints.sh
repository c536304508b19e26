#!/usr/bin/env bash
# Safe rollout of a new model version to an online endpoint, written as Azure's own sample
# scripts are (Azure/azureml-examples cli/deploy-safe-rollout-online-endpoints.sh): it runs
# unchanged on Azure with the real `az`, and on the local platform with `flightdeck` as `az`:
#
#   flightdeck local up
#   az() { shift; flightdeck "$@"; }      # or: flightdeck alias install (puts an `az` shim on PATH)
#   bash examples/az-scripts/deploy-safe-rollout-online-endpoints.sh
#
# SPECS: the folder with endpoint.yml, blue-deployment.yml, green-deployment.yml and
# sample-request.json (default: examples/product-recommender next to this folder).

set -e

SPECS=${SPECS:-"$(cd "$(dirname "${BASH_SOURCE[0]}")/../product-recommender" && pwd)"}
REQUEST=${REQUEST:-"$SPECS/sample-request.json"}

# <set_endpoint_name>
export ENDPOINT_NAME=${ENDPOINT_NAME:-"endpt-moe-$RANDOM"}
# </set_endpoint_name>

# <create_endpoint>
az ml online-endpoint create --name $ENDPOINT_NAME -f $SPECS/endpoint.yml
# </create_endpoint>

# <create_blue>
az ml online-deployment create --name blue --endpoint $ENDPOINT_NAME -f $SPECS/blue-deployment.yml --all-traffic
# </create_blue>

# <check_status>
az ml online-endpoint show -n $ENDPOINT_NAME
az ml online-deployment show --name blue --endpoint $ENDPOINT_NAME
# </check_status>

# <test_blue>
az ml online-endpoint invoke --name $ENDPOINT_NAME --request-file $REQUEST
# </test_blue>

# <test_blue_using_curl>
ENDPOINT_KEY=$(az ml online-endpoint get-credentials -n $ENDPOINT_NAME -o tsv --query primaryKey)
SCORING_URI=$(az ml online-endpoint show -n $ENDPOINT_NAME -o tsv --query scoring_uri)
curl --fail --request POST "$SCORING_URI" --header "Authorization: Bearer $ENDPOINT_KEY" --header 'Content-Type: application/json' --data @$REQUEST
echo
# </test_blue_using_curl>

# <scale_blue>
az ml online-deployment update --name blue --endpoint-name $ENDPOINT_NAME --set instance_count=2
# </scale_blue>

# <create_green>
az ml online-deployment create --name green --endpoint $ENDPOINT_NAME -f $SPECS/green-deployment.yml
# </create_green>

# <get_traffic>
az ml online-endpoint show -n $ENDPOINT_NAME --query traffic
# </get_traffic>

# <test_green>
az ml online-endpoint invoke --name $ENDPOINT_NAME --deployment-name green --request-file $REQUEST
# </test_green>

# <test_green_using_curl>
curl --fail --request POST "$SCORING_URI" --header "Authorization: Bearer $ENDPOINT_KEY" --header 'Content-Type: application/json' --header "azureml-model-deployment: green" --data @$REQUEST
echo
# </test_green_using_curl>

# <green_mirror_traffic>
az ml online-endpoint update --name $ENDPOINT_NAME --mirror-traffic "green=10"
# </green_mirror_traffic>

# <reset_mirror_traffic>
az ml online-endpoint update --name $ENDPOINT_NAME --mirror-traffic "green=0"
# </reset_mirror_traffic>

# <green_10pct_traffic>
az ml online-endpoint update --name $ENDPOINT_NAME --traffic "blue=90 green=10"
# </green_10pct_traffic>

# <green_100pct_traffic>
az ml online-endpoint update --name $ENDPOINT_NAME --traffic "blue=0 green=100"
# </green_100pct_traffic>

# <get_logs>
az ml online-deployment get-logs --name green --endpoint $ENDPOINT_NAME --lines 20
# </get_logs>

# <delete_blue>
az ml online-deployment delete --name blue --endpoint $ENDPOINT_NAME --yes --no-wait
# </delete_blue>

# <delete_endpoint>
az ml online-endpoint delete --name $ENDPOINT_NAME --yes --no-wait
# </delete_endpoint>
