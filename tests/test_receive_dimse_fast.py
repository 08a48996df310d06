"""The directly encoded C-STORE-RSP is byte for byte pynetdicom's, and only taken for success."""

from __future__ import annotations

import logging

import pytest
from pynetdicom.dimse_messages import C_STORE_RSP
from pynetdicom.dimse_primitives import C_ECHO, C_STORE

from node.receive.dimse_fast import fast_store_success


def _rsp(status: int = 0, msg_id: int = 7, uid: str = "1.2.3.45",
         sop_class: str = "1.2.840.10008.5.1.4.1.1.4") -> C_STORE:
    r = C_STORE()
    r.MessageIDBeingRespondedTo, r.AffectedSOPInstanceUID = msg_id, uid
    r.AffectedSOPClassUID, r.Status = sop_class, status
    return r


@pytest.mark.parametrize("msg_id", [1, 7, 65535])
@pytest.mark.parametrize("uid", ["1.2.3.45", "1.2.3.456", "1.2.826.0.1.3680043.8.498.1"])
@pytest.mark.parametrize("sop_class", ["1.2.840.10008.5.1.4.1.1.4", "1.2.840.10008.5.1.4.1.1.4.1"])
def test_success_response_is_byte_identical_to_pynetdicoms(msg_id: int, uid: str, sop_class: str):
    primitive = _rsp(msg_id=msg_id, uid=uid, sop_class=sop_class)
    stock = C_STORE_RSP()
    stock.primitive_to_message(primitive)
    (expected,) = list(stock.encode_msg(3, 16384))
    ours = fast_store_success(primitive, 3, 16384, observed=False)
    assert ours is not None
    assert ours.presentation_data_value_list == expected.presentation_data_value_list


def test_failures_observers_other_messages_and_tiny_pdus_go_pynetdicoms_way():
    assert fast_store_success(_rsp(status=0xA700), 1, 0, observed=False) is None
    failed = _rsp()
    failed.ErrorComment = "x"
    assert fast_store_success(failed, 1, 0, observed=False) is None
    assert fast_store_success(_rsp(), 1, 0, observed=True) is None  # someone logs EVT_DIMSE_SENT
    echo = C_ECHO()
    echo.MessageIDBeingRespondedTo, echo.Status = 1, 0
    assert fast_store_success(echo, 1, 0, observed=False) is None
    assert fast_store_success(_rsp(), 1, 64, observed=False) is None  # must be fragmented
    assert fast_store_success(_rsp(), 1, 0, observed=False) is not None  # 0 = no limit


def test_pynetdicoms_log_lines_stay_when_its_logger_is_at_info(tmp_path, caplog):
    from receive_helpers import mr_slice, pynetdicom_send, running_scp

    with running_scp(tmp_path) as scp:
        with caplog.at_level(logging.INFO, logger="pynetdicom"):
            assert pynetdicom_send(scp.port, [mr_slice()]) == [0x0000]
        assert any("Received Store Request" in r.getMessage() for r in caplog.records)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="pynetdicom"):  # quiet: handlers unbound
            assert pynetdicom_send(scp.port, [mr_slice()]) == [0x0000]
        assert not any("Store Re" in r.getMessage() for r in caplog.records)
