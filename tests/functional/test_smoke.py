from tests.conftest import login


def test_home_page_for_visitors(client):
    response = client.get("/", headers={"Accept-Language": "en"})
    assert response.status_code == 200
    assert "Every hand-off of hazardous waste" in response.get_data(as_text=True)


def test_demo_user_logs_in_and_sees_dashboard(client, demo):
    login(client, "producer@demo.test")
    page = client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "鄂尔多斯市恒源煤化工有限公司" in page


def test_unknown_url_is_a_404_page(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "Traceback" not in response.get_data(as_text=True)


def test_unknown_api_url_is_json_404(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
