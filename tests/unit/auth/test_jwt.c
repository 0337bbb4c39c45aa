/* test_jwt.c: fixed JWS vectors (HS256 computed independently with node's crypto, RS256 and
 * ES256 signed by node with the embedded keys), the alg-confusion attacks, time checks,
 * minting round trips, and the libjwt 1.10.2 behaviour auth_jwt.c relies on. */
#include "test.h"

#include <errno.h>
#include <jwt.h>
#include <sodium.h>

#include "auth/auth_jwt.h"
#include "util/mem.h"

/* Vectors generated once by this node script (node >= 16), with the PEMs below:
 *   const c = require('crypto'), b = x => Buffer.from(x).toString('base64url');
 *   const SECRET = 'chorus-unit-test-secret-32-bytes!!';
 *   function tok(h, p, alg = 'sha256', key = SECRET) {
 *     const s = b(JSON.stringify(h)) + '.' + b(JSON.stringify(p));   // or raw JSON text
 *     return s + '.' + c.createHmac(alg, key).update(s).digest('base64url'); }
 *   RS/ES: c.sign('sha256', s, {key: pem, dsaEncoding: 'ieee-p1363' | 'der'})
 * All are verified at NOW; exp 1800000000 is 2027, iat 1600000000 is 2020. */
#define NOW INT64_C(1700000000)
static const char SECRET[] = "chorus-unit-test-secret-32-bytes!!";

static const char GOOD[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTEiLCJuYW1lIjoiQWRhIExvdmVsYWN"
    "lIiwiY29sb3IiOiIjM0I4MkY2IiwiaWF0IjoxNjAwMDAwMDAwLCJleHAiOjE4MDAwMDAwMDB9.d5xDpqMDzF"
    "5IK9f6bslgdnrKesaHTFSI9Z5ORnrzW3Q";
static const char GOOD_MIN[] =
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1IiwiZXhwIjoxODAwMDAwMDAwfQ.F3WzvhWwHwxBrfJbWGoFf0mX"
    "ExLdH-KtRAzUoWvRcnI";
static const char TAMPER_PAYLOAD[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTIiLCJuYW1lIjoiQWRhIExvdmVsYWN"
    "lIiwiY29sb3IiOiIjM0I4MkY2IiwiaWF0IjoxNjAwMDAwMDAwLCJleHAiOjE4MDAwMDAwMDB9.d5xDpqMDzF"
    "5IK9f6bslgdnrKesaHTFSI9Z5ORnrzW3Q";
static const char TAMPER_SIG[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTEiLCJuYW1lIjoiQWRhIExvdmVsYWN"
    "lIiwiY29sb3IiOiIjM0I4MkY2IiwiaWF0IjoxNjAwMDAwMDAwLCJleHAiOjE4MDAwMDAwMDB9.A5xDpqMDzF"
    "5IK9f6bslgdnrKesaHTFSI9Z5ORnrzW3Q";
static const char NONE_EMPTY[] =
    "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ1c2VyLTEiLCJpYXQiOjE2MDAwMDAwMDAsImV4"
    "cCI6MTgwMDAwMDAwMH0.";
static const char NONE_SIG[] =
    "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1c2VyLTEiLCJpYXQiOjE2MDAwMDAwMDAsImV4cCI6MTgwMDAwMDAw"
    "MH0.bQv1u13RESxRXzTMN6hmB-IBSgtTGNaQ2d-DH4fXnIA";
static const char NONE_CASE[] =
    "eyJhbGciOiJuT25FIn0.eyJzdWIiOiJ1c2VyLTEiLCJpYXQiOjE2MDAwMDAwMDAsImV4cCI6MTgwMDAwMDAw"
    "MH0.";
static const char HS384[] =
    "eyJhbGciOiJIUzM4NCJ9.eyJzdWIiOiJ1c2VyLTEiLCJpYXQiOjE2MDAwMDAwMDAsImV4cCI6MTgwMDAwMDA"
    "wMH0.BxZp9_EGsVpSoGzALb3TuigVF6ad2CZmT_XMtEdnupW4SZgDerl-2tkU6I54u1dA";
static const char HS512[] =
    "eyJhbGciOiJIUzUxMiJ9.eyJzdWIiOiJ1c2VyLTEiLCJpYXQiOjE2MDAwMDAwMDAsImV4cCI6MTgwMDAwMDA"
    "wMH0._kawSMacjZAaH-Rl2nJVD1bP4hpgx1-YphYuloKGDkAE39hoaCAt07PXLRiZCB0Q2aBc3gGjMOZ3IVT"
    "HcK9-Qg";
static const char RS256_HDR[] =
    "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEiLCJpYXQiOjE2MDAwMDAwMDAsImV4cCI6MTgwMDAwMDA"
    "wMH0.bVHSD663f3aL2EyPJ9J6KuZTVpqmtk-4C5D0VY-dn1Y";
static const char HS256_EMPTY_SIG[] =
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEiLCJpYXQiOjE2MDAwMDAwMDAsImV4cCI6MTgwMDAwMDA"
    "wMH0.";
static const char EXPIRED[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTEiLCJleHAiOjE2MDAwMDAwMDB9.Oe"
    "t_kHmghE7da24AznUf6Qf6sbW8_3_3Eg5mIKomuuI";
static const char AT_EXP[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTEiLCJleHAiOjE3MDAwMDAwMDB9.PT"
    "CxNn-j-MPMm8agwrzsSkbVTYcB8CDCS2dJtbTRXkY";
static const char EXP_PLUS_30[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTEiLCJleHAiOjE3MDAwMDAwMzB9.TQ"
    "4ueYdnVpyLluA-fvMp__JhFPfqFRsbsT_9Cvfkt-A";
static const char NBF_FUTURE[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTEiLCJleHAiOjE4MDAwMDAwMDAsIm5"
    "iZiI6MTcwMDAwMDEwMH0.T5TOIH27QenkateXZ56ieSeNQZSgXkLwhxIOrC3JAbQ";
static const char NBF_NEAR[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTEiLCJleHAiOjE4MDAwMDAwMDAsIm5"
    "iZiI6MTcwMDAwMDAyMH0.TL66LpgFRXShK-61Kt6tKQYS4_WdcyBChzmhh6Yy6a8";
static const char NBF_PAST[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTEiLCJleHAiOjE4MDAwMDAwMDAsIm5"
    "iZiI6MTY5OTk5OTk5OX0.7ksB5L_t9q9mQ-31X7iMs9EU3Y-JqI3yxTgiYoo-XMo";
static const char NO_EXP[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTEiLCJpYXQiOjE2MDAwMDAwMDB9.xA"
    "BCimLY615sFW4MLp_dQwnoPCoxTa4i5q3w0ki9B_M";
static const char NO_SUB[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJleHAiOjE4MDAwMDAwMDB9.B5vnS-B8a0iclheiOqMRRf"
    "h16gmjbuwCiBUbpC_sQMY";
static const char EMPTY_SUB[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIiLCJleHAiOjE4MDAwMDAwMDB9.O9Eer1efks"
    "6mIUDlHqolXbUzXHBNz09sHrgX3zHiDiM";
static const char LONG_SUB[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3N"
    "zc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3N"
    "zc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3MiLCJleHAiOjE4MDAwMDAwMDB9.4_q64Q"
    "Jmd7EZUzHjpFdINbmowHkJzLNw5F76c8ZR5_c";
static const char MAX_SUB[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3N"
    "zc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3N"
    "zc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3NzcyIsImV4cCI6MTgwMDAwMDAwMH0.Kq6CU7I"
    "JSv363ZlnsuurXrtTsBcuFSAqDRprsIBBRqs";
static const char NUM_SUB[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOjQyLCJleHAiOjE4MDAwMDAwMDB9.Kt_XUVM4t1"
    "aFIjaNmeIjKd2t9MWRlPanrBXWTAW5HZw";
static const char EXP_STRING[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1IiwiZXhwIjoiMTgwMDAwMDAwMCJ9.Pre3y7"
    "2MbfLrMJkLHyfe5UkPgtHkQzqllI1NgYBoTY4";
static const char EXP_REAL[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1IiwiZXhwIjoxODAwMDAwMDAwLjV9.2VrXuE"
    "xihs76m67t0gJp8_vruP3ONAySQlRLFnMca2I";
static const char EXP_HUGE[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1IiwiZXhwIjo5MjIzMzcyMDM2ODU0Nzc1ODA"
    "3fQ.89k8HsQE8DsK6GUmIDRLK56NvyezhajHx9vvmHWeUHA";
static const char NBF_STRING[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1IiwiZXhwIjoxODAwMDAwMDAwLCJuYmYiOiJ"
    "zb29uIn0.NGNfLOysLLhmNjHAhrhDdBJ-I95vZBZ6ChFH7W1UYWw";
static const char LONG_NAME[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1IiwiZXhwIjoxODAwMDAwMDAwLCJuYW1lIjo"
    "ibm5ubm5ubm5ubm5ubm5ubm5ubm5ubm5ubm5ubm5ubm5ubm5ubm5ubm5ubm5ubm5ubm5ubm5ubm5ubm5ubm5"
    "ubm5ubm5ubm5ubm5ubm5ubm5ubm5ubm5ubm5ubm5ubm5ubm5ubm5ubm5ubm5ubm5ubm5ubm5ubm5ubm5ubm5"
    "ubm5uIn0.lbEKEc4seQEpSeV6zYeWL6OCxytxPTT8AWh-tP4qAEk";
static const char NUM_NAME[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1IiwiZXhwIjoxODAwMDAwMDAwLCJuYW1lIjo"
    "3fQ.9Gt596ifK5siyiBPoAFzKFfCuMVZ1ZXFuqfsoGxVqCQ";
static const char BAD_COLOR[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1IiwiZXhwIjoxODAwMDAwMDAwLCJjb2xvciI"
    "6IiMxMjM0NWcifQ.5_e7ofmo9EwhKgmvLf22wiogsivGprPi9r4ngB0bIbQ";
static const char NAMED_COLOR[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1IiwiZXhwIjoxODAwMDAwMDAwLCJjb2xvciI"
    "6InJlZCJ9.k8vMhFV50tQHASu2xyVUnBNipbkZ8OUkURAi6qWX8AQ";
static const char DUP_SUB[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1Iiwic3ViIjoiYWRtaW4iLCJleHAiOjE4MDA"
    "wMDAwMDB9.6iq0Tnb2gMy1c5FITkTWmQmE1TgJQhJeaHvKEV16DZY";
static const char CRIT[] =
    "eyJhbGciOiJIUzI1NiIsImNyaXQiOlsiZXhwIl19.eyJzdWIiOiJ1c2VyLTEiLCJpYXQiOjE2MDAwMDAwMDA"
    "sImV4cCI6MTgwMDAwMDAwMH0.2JrdJdiVrOywwQxYBuOEXLQeOdmFQAY8EiACRWvVVqE";
static const char HDR_ARRAY[] =
    "WyJIUzI1NiJd.eyJzdWIiOiJ1c2VyLTEiLCJpYXQiOjE2MDAwMDAwMDAsImV4cCI6MTgwMDAwMDAwMH0.pL0"
    "LJOj4W66eJioByD_fZDhACjVLv0AHXSnrZ-AGOXQ";
static const char HDR_ALG_NUM[] =
    "eyJhbGciOjI1Nn0.eyJzdWIiOiJ1c2VyLTEiLCJpYXQiOjE2MDAwMDAwMDAsImV4cCI6MTgwMDAwMDAwMH0."
    "O7U3jr73HTZpytLcVf3rOQhWfjJaOtZqxrU9ILK1oXw";
static const char HDR_NO_ALG[] =
    "eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiJ1c2VyLTEiLCJpYXQiOjE2MDAwMDAwMDAsImV4cCI6MTgwMDAwMDAwM"
    "H0.qV8En_QEj0AIaCFONZMSOVqFQBQPD5fFZmJCcf4ezqM";
static const char PAYLOAD_ARRAY[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.WzEsMl0.9Ep5HlOFxT-9n-0gwZf7-1QI8Y9O9gQ-ybK4i1K"
    "Mo-k";
static const char PAYLOAD_NOT_JSON[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1Iiw.XQ703_CXTRRrtW5Eln4XNtCP1wHRGsG"
    "0rB-S2E2GzxU";
static const char BAD_B64[] =
    "eyJhb!ciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTEiLCJuYW1lIjoiQWRhIExvdmVsYWN"
    "lIiwiY29sb3IiOiIjM0I4MkY2IiwiaWF0IjoxNjAwMDAwMDAwLCJleHAiOjE4MDAwMDAwMDB9.d5xDpqMDzF"
    "5IK9f6bslgdnrKesaHTFSI9Z5ORnrzW3Q";
static const char PADDED_SIG[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTEiLCJuYW1lIjoiQWRhIExvdmVsYWN"
    "lIiwiY29sb3IiOiIjM0I4MkY2IiwiaWF0IjoxNjAwMDAwMDAwLCJleHAiOjE4MDAwMDAwMDB9.d5xDpqMDzF"
    "5IK9f6bslgdnrKesaHTFSI9Z5ORnrzW3Q=";
static const char STD_B64[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTEiLCJuYW1lIjoiQWRhIExvdmVsYWN"
    "lIiwiY29sb3IiOiIjM0I4MkY2IiwiaWF0IjoxNjAwMDAwMDAwLCJleHAiOjE4MDAwMDAwMDB9.+5xDpqMDzF"
    "5IK9f6bslgdnrKesaHTFSI9Z5ORnrzW3Q";
static const char TWO_PARTS[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTEiLCJuYW1lIjoiQWRhIExvdmVsYWN"
    "lIiwiY29sb3IiOiIjM0I4MkY2IiwiaWF0IjoxNjAwMDAwMDAwLCJleHAiOjE4MDAwMDAwMDB9";
static const char FOUR_PARTS[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTEiLCJuYW1lIjoiQWRhIExvdmVsYWN"
    "lIiwiY29sb3IiOiIjM0I4MkY2IiwiaWF0IjoxNjAwMDAwMDAwLCJleHAiOjE4MDAwMDAwMDB9.d5xDpqMDzF"
    "5IK9f6bslgdnrKesaHTFSI9Z5ORnrzW3Q.d5xDpqMDzF5IK9f6bslgdnrKesaHTFSI9Z5ORnrzW3Q";
static const char NONCANON_SIG[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTEiLCJuYW1lIjoiQWRhIExvdmVsYWN"
    "lIiwiY29sb3IiOiIjM0I4MkY2IiwiaWF0IjoxNjAwMDAwMDAwLCJleHAiOjE4MDAwMDAwMDB9.d5xDpqMDzF"
    "5IK9f6bslgdnrKesaHTFSI9Z5ORnrzW3R";
static const char RS_GOOD[] =
    "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTEiLCJpYXQiOjE2MDAwMDAwMDAsImV"
    "4cCI6MTgwMDAwMDAwMH0.Js_SVh0F6g9FU4lliHVC4_oa2cfRknqVd69urs0iZBy6lbAjpxbjQfw5dj75yO5"
    "5Br0MHRqrGwnqLS44dqIzBBDtvXkGT0r2lmusr_W_CAm9J0nh2GV5OXlRdU2IsP7IiCQ2Q085Ck5w8E-hwbb"
    "1_21ElDPy6ZhZbSJwGGzfxHr8PL1qLrTmZg4cJcb7MQrKo9YsIp9pcrKZtg5Ey8Fws4T65uuYG1b8UcmwZKP"
    "FU7vjdOksw3l1NUnB8MqcakWkkq2VLX8llIT1FN8UFKzhI42d_uJP1yDZN2M5ghZQEqjQgOwRl0rEX97m3En"
    "lE1-P8wuIDBN24sr4kzmub5dVTQ";
static const char ES_GOOD[] =
    "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTEiLCJpYXQiOjE2MDAwMDAwMDAsImV"
    "4cCI6MTgwMDAwMDAwMH0.4lQQhJ-bHoHsX40Rdfp3INoft11w_QX19LdCBcXChBeY_eOYhqRngp35lwSzsTA"
    "B5blPdq7-x1R3cXdqPp_X7Q";
static const char ES_DER[] =
    "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTEiLCJpYXQiOjE2MDAwMDAwMDAsImV"
    "4cCI6MTgwMDAwMDAwMH0.MEQCICIbrng7OVfzRim-13hYi9dM4_P1jWC459sY75UdSZnoAiAmyHaiN9eN-UA"
    "NI2TJx1GrLbSoadtMa0wBrJhSxpIy1A";
static const char CONFUSE_RS[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTEiLCJpYXQiOjE2MDAwMDAwMDAsImV"
    "4cCI6MTgwMDAwMDAwMH0.6tUh7W4wVjCIMSQA0oGviEh1QFH5AJ9ENzBvrxP--nU";
static const char CONFUSE_ES[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTEiLCJpYXQiOjE2MDAwMDAwMDAsImV"
    "4cCI6MTgwMDAwMDAwMH0.sOYe426Zs2FWADiu6BxqkrgWPS1tkpEIdjKFdREkdo8";
static const char RSA_PRIV[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQC+ZGmKZWsvSKJj\n"
    "MsJP21on7k+z9hPE7WfhJ8I/yNk+MWg5MF14Fq5sf2RyP/izeDFg+S/F1/dhqjan\n"
    "qW4ecysxyPuOd59gNS2wubE7as2H6Ji7TDerWnsESMVccR9OP9cJ994bbeJKcK3r\n"
    "0Rn9OY9JtfC+Pa7lEcCshQ3BTkW1crOSOLe0EO7vjP3lIxbOUKM/cghO17Sq1sYv\n"
    "v6DMvf0Q+21EmfdWoUknoURvr+nvQOTPBwLayinuIC/knvj4IAFDVcDS/HB+ocxX\n"
    "JFbpH/esmKqZC4N9SKxmZmRDbCoS3Lq1sgzvvO6hxDVAsLT9DsnOA2+MjOYoUamn\n"
    "d5oB4zmtAgMBAAECggEAA2HiEQATeFcTDa38OdlLCK1ZGQbb2EXwjMcrbqgaEpO5\n"
    "H+RNPMrBB0vb21sUlYCGaH4DBVAKuhhITp6Lqhq1kTzMNmHjxHHyvee4ZNL/92nA\n"
    "XxaP70lRfkSaPzXJQ/rGsgux9/Bx+akhlBPZ9p+/p8CiNIjH4yI+jIdltIybtTPB\n"
    "7fZiM8odDZCkLo1HjfeMtAPt8+56rWHlvcMPGyZlpoAAxFFxg+tT1SLKZmCkn9JE\n"
    "K8hhZxJVy0bAnNUjqsCoWtzEmmhmmpWq13DINjASsLWUi/eeIQO//T7wKDJ2zHEd\n"
    "pVNvct+NvHzAf11SvwXcNmulD/s1pcgbreCmfo4GEQKBgQD8blC+rCzwM0oW6stV\n"
    "f63HPgOzvog75KIV+uJ/FG7UQ2+mUKNzfImefLmUocSz2dBG7P/1rilc1uaRr24E\n"
    "hwSxc4Fwet95AyLsDyHzq8+S+6+OuzLEkFQJgqmanwQeW8YeYSxtjNpORz/jQmcI\n"
    "HG5pwlmE5r1WihwG7BdvVaKrKQKBgQDBFYuQIo+VgjHt9ZZWCaHkwxQQmlRxqJp9\n"
    "Sz/1qV513l6hkGWp69Cmyoc80dScueJq+39rNR1OdwI7onClgTJHFegyLqDkNaYd\n"
    "wzZFH2vU6ev/GdNAihwtTeGwBWIMhIXWfRvAbCHBobxbJ1vpwbKoqn8XxLedX+QU\n"
    "2ijVkkDu5QKBgFnJp2Da/zUFGVJje6XSv25CSbDSkcS0A09MKOpIy08nGXyP7EO0\n"
    "xYKhHKWYkM3kKOhBfp3VsBK8wdCKFNj5aZrw2da3beuuSOqsS0hQEYpXic98GIfA\n"
    "SpQDbO55p05hGGxP5iylUDVNtJTSVrGU41Us8wiJxkkU4Pk5WvCYBj9ZAoGAJ5+N\n"
    "QWnmP081gdi5HjTh1Tk3P+T72Us5UOcFXBuCt/uHPe6M/l7XNbMwJ4oD8Jmw3jV4\n"
    "Q37l4blIawZ9yWkG8VGMkefBurNLwKXT2EGHdmz+sh4RnRf6ik2GOAISyfDUKl0I\n"
    "Oee20a6oIailEwZd7ID4jd8fsxr/ikvuv01BKAUCgYAOGOWMGJ0i3sacBK7gINBy\n"
    "2qjqM1Ae8APOP+jyj4ueIbfW4T5xOUV9JdNriPgUPwB73eOwBeX2wslrZxRWBlK3\n"
    "UeDGy1ORmPKpwUdIenwyMwqNq08KxiZGFa2HpUbCz/zE6qDpVAifjTEThRwx2lcm\n"
    "v6oHtfNC9DeYj0Zj/v1CBQ==\n"
    "-----END PRIVATE KEY-----\n";
static const char RSA_PUB[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAvmRpimVrL0iiYzLCT9ta\n"
    "J+5Ps/YTxO1n4SfCP8jZPjFoOTBdeBaubH9kcj/4s3gxYPkvxdf3Yao2p6luHnMr\n"
    "Mcj7jnefYDUtsLmxO2rNh+iYu0w3q1p7BEjFXHEfTj/XCffeG23iSnCt69EZ/TmP\n"
    "SbXwvj2u5RHArIUNwU5FtXKzkji3tBDu74z95SMWzlCjP3IITte0qtbGL7+gzL39\n"
    "EPttRJn3VqFJJ6FEb6/p70DkzwcC2sop7iAv5J74+CABQ1XA0vxwfqHMVyRW6R/3\n"
    "rJiqmQuDfUisZmZkQ2wqEty6tbIM77zuocQ1QLC0/Q7JzgNvjIzmKFGpp3eaAeM5\n"
    "rQIDAQAB\n"
    "-----END PUBLIC KEY-----\n";
static const char EC_PRIV[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgN0s9bPy7NwHn8xyL\n"
    "TKWpUgN679nz6xY1WkLff3qFIMyhRANCAASx21IIn/jCVyXhXYRRjLYA0+I9FMGB\n"
    "ee14FhnOVROydWAeqxsYWSjaY00J4U/ufMZkcKRGESkwVzSd7DQL90JX\n"
    "-----END PRIVATE KEY-----\n";
static const char EC_PUB[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEsdtSCJ/4wlcl4V2EUYy2ANPiPRTB\n"
    "gXnteBYZzlUTsnVgHqsbGFko2mNNCeFP7nzGZHCkRhEpMFc0new0C/dCVw==\n"
    "-----END PUBLIC KEY-----\n";
static const char EC2_PRIV[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgHKc346tBq58pvuLF\n"
    "su+1QSR/8PJU6CaBqG5IKZwuLhChRANCAARJUxlBdaHQLn5HGZqyTlXIxJfo01F4\n"
    "o4ulByYe4J1OsORhxONrHyHu7gfQTB24pVWO/Z0MWzl2VICFbBlDZQaE\n"
    "-----END PRIVATE KEY-----\n";
static const char EC384_PUB[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEN/W4zpvgvO43C6qEoYVRAajQVx2JX1Yb\n"
    "BWtCZ2L2TYyr3TAfbDFLSlxZoqwitNevzo+IOcKNRv3B6j1OLYBwxIFlR7l7l9yH\n"
    "46T2m9uGez0mOJzlb7i0KmM1PDAW0cI6\n"
    "-----END PUBLIC KEY-----\n";

#define L(s) (s), strlen(s)

static auth_jwt_t *hs(int64_t leeway)
{
    return auth_jwt_new(AUTH_ALG_HS256, (const unsigned char *)SECRET, strlen(SECRET),
                        (const unsigned char *)SECRET, strlen(SECRET), leeway);
}

static int verify(const auth_jwt_t *a, const char *tok, int64_t now, auth_claims_t *c)
{
    auth_claims_t scratch;
    const char *why = NULL;
    int rc = auth_jwt_verify(a, tok, strlen(tok), now, c ? c : &scratch, &why);
    if (!why) return 999; /* why must always be set */
    return rc;
}

static void test_good(void)
{
    auth_jwt_t *a = hs(0);
    ASSERT_TRUE(a != NULL);
    auth_claims_t c;
    const char *why = NULL;
    ASSERT_EQ(auth_jwt_verify(a, L(GOOD), NOW, &c, &why), 0);
    ASSERT_STREQ(why, "ok");
    ASSERT_STREQ(c.sub, "user-1");
    ASSERT_STREQ(c.name, "Ada Lovelace");
    ASSERT_STREQ(c.color, "#3b82f6"); /* normalised */
    ASSERT_EQ(c.iat, 1600000000);
    ASSERT_EQ(c.exp, 1800000000);
    ASSERT_EQ(c.nbf, 0);
    ASSERT_EQ(verify(a, GOOD_MIN, NOW, &c), 0);
    ASSERT_STREQ(c.sub, "u");
    ASSERT_STREQ(c.name, "");
    ASSERT_STREQ(c.color, "");
    ASSERT_EQ(c.iat, 0);
    /* why may be NULL; the token need not be NUL-terminated */
    char buf[sizeof GOOD + 8];
    memcpy(buf, GOOD, strlen(GOOD));
    memcpy(buf + strlen(GOOD), "garbage", 8);
    ASSERT_EQ(auth_jwt_verify(a, buf, strlen(GOOD), NOW, &c, NULL), 0);
    /* one more base64url char: a longer, wrong signature */
    ASSERT_EQ(auth_jwt_verify(a, buf, strlen(GOOD) + 1, NOW, &c, NULL), AUTH_JWT_EBAD_SIGNATURE);
    auth_jwt_free(a);
}

static void test_tampered(void)
{
    auth_jwt_t *a = hs(0);
    auth_claims_t c;
    ASSERT_EQ(verify(a, TAMPER_PAYLOAD, NOW, &c), AUTH_JWT_EBAD_SIGNATURE);
    ASSERT_STREQ(c.sub, ""); /* nothing leaks out of a failed verification */
    ASSERT_EQ(verify(a, TAMPER_SIG, NOW, NULL), AUTH_JWT_EBAD_SIGNATURE);
    ASSERT_EQ(verify(a, HS256_EMPTY_SIG, NOW, NULL), AUTH_JWT_EBAD_SIGNATURE);
    /* a different secret */
    const char other[] = "another-secret-that-is-32-bytes-long";
    auth_jwt_t *b = auth_jwt_new(AUTH_ALG_HS256, (const unsigned char *)other, strlen(other),
                                 NULL, 0, 0);
    ASSERT_EQ(verify(b, GOOD, NOW, NULL), AUTH_JWT_EBAD_SIGNATURE);
    auth_jwt_free(b);
    auth_jwt_free(a);
}

static void test_alg_none(void)
{
    auth_jwt_t *a = hs(0);
    ASSERT_EQ(verify(a, NONE_EMPTY, NOW, NULL), AUTH_JWT_EALG_NONE);
    ASSERT_EQ(verify(a, NONE_SIG, NOW, NULL), AUTH_JWT_EALG_NONE);
    ASSERT_EQ(verify(a, NONE_CASE, NOW, NULL), AUTH_JWT_EALG_NONE);
    auth_jwt_free(a);
}

static void test_alg_mismatch(void)
{
    auth_jwt_t *a = hs(0);
    ASSERT_EQ(verify(a, HS384, NOW, NULL), AUTH_JWT_EALG_MISMATCH);
    ASSERT_EQ(verify(a, HS512, NOW, NULL), AUTH_JWT_EALG_MISMATCH);
    ASSERT_EQ(verify(a, RS256_HDR, NOW, NULL), AUTH_JWT_EALG_MISMATCH);
    ASSERT_EQ(verify(a, RS_GOOD, NOW, NULL), AUTH_JWT_EALG_MISMATCH);
    ASSERT_EQ(verify(a, ES_GOOD, NOW, NULL), AUTH_JWT_EALG_MISMATCH);
    auth_jwt_free(a);
}

static void test_expiry_and_leeway(void)
{
    auth_jwt_t *a = hs(0), *l = hs(30);
    auth_claims_t c;
    ASSERT_EQ(verify(a, EXPIRED, NOW, NULL), AUTH_JWT_EEXPIRED);
    ASSERT_EQ(verify(a, AT_EXP, NOW - 1, NULL), 0);
    ASSERT_EQ(verify(a, AT_EXP, NOW, NULL), AUTH_JWT_EEXPIRED); /* exactly at exp */
    ASSERT_EQ(verify(l, AT_EXP, NOW, NULL), 0);
    ASSERT_EQ(verify(l, AT_EXP, NOW + 29, NULL), 0);
    ASSERT_EQ(verify(l, AT_EXP, NOW + 30, NULL), AUTH_JWT_EEXPIRED);
    ASSERT_EQ(verify(l, EXP_PLUS_30, NOW + 59, NULL), 0);
    ASSERT_EQ(verify(l, EXP_PLUS_30, NOW + 60, NULL), AUTH_JWT_EEXPIRED);
    ASSERT_EQ(verify(l, EXPIRED, NOW, NULL), AUTH_JWT_EEXPIRED);
    /* nbf: now + leeway < nbf is too early */
    ASSERT_EQ(verify(a, NBF_FUTURE, NOW, NULL), AUTH_JWT_ENOT_YET_VALID);
    ASSERT_EQ(verify(l, NBF_FUTURE, NOW, NULL), AUTH_JWT_ENOT_YET_VALID);
    ASSERT_EQ(verify(a, NBF_FUTURE, NOW + 99, NULL), AUTH_JWT_ENOT_YET_VALID);
    ASSERT_EQ(verify(a, NBF_FUTURE, NOW + 100, &c), 0);
    ASSERT_EQ(c.nbf, NOW + 100);
    ASSERT_EQ(verify(l, NBF_FUTURE, NOW + 70, NULL), 0);
    ASSERT_EQ(verify(l, NBF_FUTURE, NOW + 69, NULL), AUTH_JWT_ENOT_YET_VALID);
    ASSERT_EQ(verify(a, NBF_NEAR, NOW, NULL), AUTH_JWT_ENOT_YET_VALID);
    ASSERT_EQ(verify(l, NBF_NEAR, NOW, NULL), 0);
    ASSERT_EQ(verify(a, NBF_PAST, NOW, NULL), 0);
    /* exp = INT64_MAX: exp + leeway overflows, must not wrap into "expired" (UBSan) */
    ASSERT_EQ(verify(l, EXP_HUGE, NOW, &c), 0);
    ASSERT_EQ(c.exp, INT64_MAX);
    auth_jwt_free(a);
    auth_jwt_free(l);
}

static void test_malformed_claims(void)
{
    auth_jwt_t *a = hs(0);
    static const char *const bad[] = {
        NO_EXP, NO_SUB, EMPTY_SUB, LONG_SUB, NUM_SUB, EXP_STRING, EXP_REAL, NBF_STRING,
        LONG_NAME, NUM_NAME, BAD_COLOR, NAMED_COLOR, DUP_SUB, CRIT, HDR_ARRAY, HDR_ALG_NUM,
        HDR_NO_ALG, PAYLOAD_ARRAY, PAYLOAD_NOT_JSON,
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = verify(a, bad[i], NOW, NULL);
        if (rc != AUTH_JWT_EMALFORMED) TEST_FAIL_("bad[%zu]: got %d", i, rc);
    }
    auth_claims_t c;
    ASSERT_EQ(verify(a, MAX_SUB, NOW, &c), 0);
    ASSERT_EQ(strlen(c.sub), 128);
    auth_jwt_free(a);
}

static void test_malformed_shape(void)
{
    auth_jwt_t *a = hs(0);
    static const char *const bad[] = {
        BAD_B64, PADDED_SIG, STD_B64, TWO_PARTS, FOUR_PARTS, NONCANON_SIG,
        "", ".", "..", "...", "a.b.c", "eyJhbGciOiJIUzI1NiJ9..x", ".eyJzdWIiOiJ1In0.x",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = verify(a, bad[i], NOW, NULL);
        if (rc != AUTH_JWT_EMALFORMED) TEST_FAIL_("bad[%zu] \"%s\": got %d", i, bad[i], rc);
    }
    /* embedded NUL */
    char nul[sizeof GOOD];
    memcpy(nul, GOOD, sizeof GOOD);
    nul[10] = '\0';
    ASSERT_EQ(auth_jwt_verify(a, nul, strlen(GOOD), NOW, &(auth_claims_t){0}, NULL),
              AUTH_JWT_EMALFORMED);
    /* oversized: a valid prefix padded past 8 KiB */
    static char big[AUTH_JWT_MAX_LEN + 2];
    memset(big, 'A', sizeof big - 1);
    memcpy(big, GOOD, strlen(GOOD));
    ASSERT_EQ(verify(a, big, NOW, NULL), AUTH_JWT_EMALFORMED);
    ASSERT_EQ(auth_jwt_verify(a, big, AUTH_JWT_MAX_LEN + 1, NOW, &(auth_claims_t){0}, NULL),
              AUTH_JWT_EMALFORMED);
    auth_jwt_free(a);
}

/* jti and ep (revocation) round-trip; absent ones stay absent; bad ones are refused. */
static void test_jti_and_epoch(void)
{
    auth_jwt_t *a = hs(0);
    auth_claims_t in = {0}, out;
    strcpy(in.sub, "u");
    auth_jti_key("0123456789abcdef0123456789abcdef", AUTH_JTI_HEX_LEN, &in.jti);
    in.has_jti = 1;
    in.ep = 7;
    in.has_ep = 1;
    char *t = auth_jwt_mint(a, &in, NOW, 60);
    ASSERT_TRUE(t != NULL);
    jwt_t *j = NULL; /* the jti goes out as minted: the key's hex form */
    ASSERT_EQ(jwt_decode(&j, t, (const unsigned char *)SECRET, (int)strlen(SECRET)), 0);
    ASSERT_STREQ(jwt_get_grant(j, "jti"), "0123456789abcdef0123456789abcdef");
    jwt_free(j);
    ASSERT_EQ(verify(a, t, NOW, &out), 0);
    ASSERT_EQ(out.has_jti, 1);
    ASSERT_TRUE(memcmp(&out.jti, &in.jti, sizeof(in.jti)) == 0);
    ASSERT_EQ(out.has_ep, 1);
    ASSERT_EQ(out.ep, 7);
    free(t);
    auth_claims_t bare = {0};
    strcpy(bare.sub, "u");
    t = auth_jwt_mint(a, &bare, NOW, 60);
    ASSERT_EQ(verify(a, t, NOW, &out), 0);
    ASSERT_EQ(out.has_jti, 0);
    ASSERT_EQ(out.has_ep, 0);
    free(t);
    in.ep = -1;
    ASSERT_TRUE(auth_jwt_mint(a, &in, NOW, 60) == NULL);
    auth_jwt_free(a);
}

/* A jti is kept as a 16-byte key: Chorus's 32 hex digits as the bytes they spell (the hex
 * form gives the jti back), anything else as a digest; equal ids give equal keys, and the
 * hex form of any key reads back as the same key. */
static void test_jti_key(void)
{
    auth_jti_t k, k2;
    char hex[AUTH_JTI_HEX_LEN + 1];
    const char *chorus = "00ff0123456789abcdef0123456789ab";
    auth_jti_key(chorus, strlen(chorus), &k);
    ASSERT_EQ(k.b[0], 0x00);
    ASSERT_EQ(k.b[1], 0xff);
    auth_jti_hex(&k, hex);
    ASSERT_STREQ(hex, chorus);
    const char *others[] = {
        "backend-1", "00FF0123456789ABCDEF0123456789AB", "00ff0123456789abcdef0123456789a",
        "00ff0123456789abcdef0123456789abc", "00ff0123456789abcdef0123456789ag"};
    for (size_t i = 0; i < CH_ARRAY_LEN(others); i++) {
        auth_jti_key(others[i], strlen(others[i]), &k);
        auth_jti_key(others[i], strlen(others[i]), &k2);
        ASSERT_TRUE(memcmp(&k, &k2, sizeof(k)) == 0);
        auth_jti_hex(&k, hex);
        ASSERT_TRUE(strcmp(hex, others[i]) != 0);
        auth_jti_key(hex, strlen(hex), &k2);
        ASSERT_TRUE(memcmp(&k, &k2, sizeof(k)) == 0);
        auth_jti_key(chorus, strlen(chorus), &k2);
        ASSERT_TRUE(memcmp(&k, &k2, sizeof(k)) != 0);
    }
    /* A token carries it: an app backend's jti verifies to its digest. */
    auth_jwt_t *a = hs(0);
    jwt_t *j = NULL;
    ASSERT_EQ(jwt_new(&j), 0);
    jwt_add_grant(j, "sub", "u");
    jwt_add_grant_int(j, "exp", (long)NOW + 60);
    jwt_add_grant(j, "jti", "backend-1");
    jwt_set_alg(j, JWT_ALG_HS256, (const unsigned char *)SECRET, (int)strlen(SECRET));
    char *t = jwt_encode_str(j);
    jwt_free(j);
    auth_claims_t out;
    ASSERT_EQ(verify(a, t, NOW, &out), 0);
    ASSERT_EQ(out.has_jti, 1);
    auth_jti_key("backend-1", 9, &k);
    ASSERT_TRUE(memcmp(&out.jti, &k, sizeof(k)) == 0);
    free(t);
    auth_jwt_free(a);
}

static void test_mint_roundtrip(void)
{
    auth_jwt_t *a = hs(0);
    ASSERT_EQ(auth_jwt_can_mint(a), 1);
    auth_claims_t in = {0}, out;
    strcpy(in.sub, "9b2e1c0a-4f7d-4e8b-a1c2-3d4e5f607182");
    strcpy(in.name, "Zoë \"the\" 🎉");
    strcpy(in.color, "#AABBCC");
    char *t = auth_jwt_mint(a, &in, NOW, 3600);
    ASSERT_TRUE(t != NULL);
    int rc = verify(a, t, NOW + 10, &out);
    ASSERT_EQ(rc, 0);
    ASSERT_STREQ(out.sub, in.sub);
    ASSERT_STREQ(out.name, in.name);
    ASSERT_STREQ(out.color, "#aabbcc");
    ASSERT_EQ(out.iat, NOW);
    ASSERT_EQ(out.exp, NOW + 3600);
    ASSERT_EQ(verify(a, t, NOW + 3600, NULL), AUTH_JWT_EEXPIRED);
    free(t);

    /* without name and color: neither claim is written */
    auth_claims_t bare = {0};
    strcpy(bare.sub, "u");
    t = auth_jwt_mint(a, &bare, NOW, 60);
    ASSERT_TRUE(t != NULL);
    ASSERT_EQ(verify(a, t, NOW, &out), 0);
    ASSERT_STREQ(out.name, "");
    ASSERT_STREQ(out.color, "");
    free(t);

    /* refused claims */
    ASSERT_TRUE(auth_jwt_mint(a, &bare, NOW, 0) == NULL);
    ASSERT_TRUE(auth_jwt_mint(a, &bare, INT64_MAX - 10, 60) == NULL);
    auth_claims_t badc = bare;
    strcpy(badc.color, "red");
    ASSERT_TRUE(auth_jwt_mint(a, &badc, NOW, 60) == NULL);
    auth_claims_t nosub = {0};
    ASSERT_TRUE(auth_jwt_mint(a, &nosub, NOW, 60) == NULL);
    auth_claims_t unterminated = bare;
    memset(unterminated.sub, 'x', sizeof unterminated.sub);
    ASSERT_TRUE(auth_jwt_mint(a, &unterminated, NOW, 60) == NULL);

    /* a verify-only instance checks but cannot mint */
    auth_jwt_t *v = auth_jwt_new(AUTH_ALG_HS256, (const unsigned char *)SECRET, strlen(SECRET),
                                 NULL, 0, 0);
    ASSERT_EQ(auth_jwt_can_mint(v), 0);
    ASSERT_TRUE(auth_jwt_mint(v, &bare, NOW, 60) == NULL);
    ASSERT_EQ(verify(v, GOOD, NOW, NULL), 0);
    auth_jwt_free(v);
    auth_jwt_free(a);
}

static auth_jwt_t *pem(auth_alg_t alg, const char *pub, const char *priv)
{
    return auth_jwt_new(alg, (const unsigned char *)pub, strlen(pub),
                        (const unsigned char *)priv, priv ? strlen(priv) : 0, 0);
}

/* Mints with libjwt directly and the private key, as another service would. */
static char *libjwt_mint(jwt_alg_t alg, const char *priv)
{
    jwt_t *j = NULL;
    if (jwt_new(&j) != 0) return NULL;
    jwt_add_grant(j, "sub", "svc");
    jwt_add_grant_int(j, "exp", 1800000000);
    char *t = NULL;
    if (jwt_set_alg(j, alg, (const unsigned char *)priv, (int)strlen(priv)) == 0)
        t = jwt_encode_str(j);
    jwt_free(j);
    return t;
}

static void test_rs256(void)
{
    auth_jwt_t *v = pem(AUTH_ALG_RS256, RSA_PUB, NULL), *m = pem(AUTH_ALG_RS256, RSA_PUB, RSA_PRIV);
    ASSERT_TRUE(v && m);
    ASSERT_EQ(auth_jwt_can_mint(v), 0);
    auth_claims_t c;
    ASSERT_EQ(verify(v, RS_GOOD, NOW, &c), 0);
    ASSERT_STREQ(c.sub, "user-1");
    char *t = libjwt_mint(JWT_ALG_RS256, RSA_PRIV);
    ASSERT_TRUE(t != NULL);
    ASSERT_EQ(verify(v, t, NOW, &c), 0);
    ASSERT_STREQ(c.sub, "svc");
    free(t);
    auth_claims_t in = {0};
    strcpy(in.sub, "rs-user");
    t = auth_jwt_mint(m, &in, NOW, 60);
    ASSERT_TRUE(t != NULL);
    ASSERT_EQ(verify(v, t, NOW, &c), 0);
    free(t);
    /* key confusion: HS256 keyed with the public PEM */
    ASSERT_EQ(verify(v, CONFUSE_RS, NOW, NULL), AUTH_JWT_EALG_MISMATCH);
    ASSERT_EQ(verify(v, GOOD, NOW, NULL), AUTH_JWT_EALG_MISMATCH);
    ASSERT_EQ(verify(v, ES_GOOD, NOW, NULL), AUTH_JWT_EALG_MISMATCH);
    ASSERT_EQ(verify(v, NONE_EMPTY, NOW, NULL), AUTH_JWT_EALG_NONE);
    auth_jwt_free(v);
    auth_jwt_free(m);
}

static void test_es256(void)
{
    auth_jwt_t *v = pem(AUTH_ALG_ES256, EC_PUB, NULL), *m = pem(AUTH_ALG_ES256, EC_PUB, EC_PRIV);
    ASSERT_TRUE(v && m);
    auth_claims_t c;
    ASSERT_EQ(verify(v, ES_GOOD, NOW, &c), 0);
    ASSERT_STREQ(c.sub, "user-1");
    /* JWS wants the raw R||S signature; a DER-encoded ECDSA signature does not verify */
    ASSERT_EQ(verify(v, ES_DER, NOW, NULL), AUTH_JWT_EBAD_SIGNATURE);
    char *t = libjwt_mint(JWT_ALG_ES256, EC_PRIV);
    ASSERT_TRUE(t != NULL);
    ASSERT_EQ(verify(v, t, NOW, &c), 0);
    free(t);
    auth_claims_t in = {0};
    strcpy(in.sub, "es-user");
    strcpy(in.color, "#123456");
    t = auth_jwt_mint(m, &in, NOW, 60);
    ASSERT_TRUE(t != NULL);
    ASSERT_EQ(verify(v, t, NOW, &c), 0);
    ASSERT_STREQ(c.color, "#123456");
    free(t);
    ASSERT_EQ(verify(v, CONFUSE_ES, NOW, NULL), AUTH_JWT_EALG_MISMATCH);
    ASSERT_EQ(verify(v, RS_GOOD, NOW, NULL), AUTH_JWT_EALG_MISMATCH);
    auth_jwt_free(v);
    auth_jwt_free(m);
}

/* Signatures of every length up to 600 base64url chars: never accepted, never a crash
 * inside libjwt's RSA/ECDSA paths (odd lengths, empty halves of R||S). */
static void test_asym_signature_lengths(void)
{
    auth_jwt_t *rs = pem(AUTH_ALG_RS256, RSA_PUB, NULL), *es = pem(AUTH_ALG_ES256, EC_PUB, NULL);
    ASSERT_TRUE(rs && es);
    static char tok[2048];
    const char *good[2] = {RS_GOOD, ES_GOOD};
    auth_jwt_t *cfg[2] = {rs, es};
    for (int k = 0; k < 2; k++) {
        size_t head = (size_t)(strrchr(good[k], '.') - good[k]) + 1;
        memcpy(tok, good[k], head);
        for (size_t n = 0; n <= 600; n++) {
            if (n % 4 == 1) continue; /* impossible base64 length: MALFORMED, tested above */
            for (size_t i = 0; i < n; i++) tok[head + i] = "AQgw"[(i * 7 + n) % 4];
            tok[head + n] = '\0';
            int rc = verify(cfg[k], tok, NOW, NULL);
            if (rc != AUTH_JWT_EBAD_SIGNATURE && rc != AUTH_JWT_EMALFORMED)
                TEST_FAIL_("alg %d sig len %zu: got %d", k, n, rc);
        }
    }
    auth_jwt_free(rs);
    auth_jwt_free(es);
}

static void test_new_rejects(void)
{
    const unsigned char *s = (const unsigned char *)SECRET;
    ASSERT_TRUE(auth_jwt_new(AUTH_ALG_HS256, s, 31, NULL, 0, 0) == NULL);     /* short */
    ASSERT_TRUE(auth_jwt_new(AUTH_ALG_HS256, s, 32, s, 33, 0) == NULL);       /* not same */
    ASSERT_TRUE(auth_jwt_new(AUTH_ALG_HS256, s, 32, NULL, 0, -1) == NULL);    /* leeway */
    ASSERT_TRUE(auth_jwt_new(AUTH_ALG_HS256, NULL, 0, NULL, 0, 0) == NULL);
    ASSERT_TRUE(auth_jwt_new((auth_alg_t)42, s, 32, NULL, 0, 0) == NULL);
    ASSERT_TRUE(pem(AUTH_ALG_RS256, "not a pem", NULL) == NULL);
    ASSERT_TRUE(pem(AUTH_ALG_RS256, EC_PUB, NULL) == NULL);              /* wrong key type */
    ASSERT_TRUE(pem(AUTH_ALG_ES256, RSA_PUB, NULL) == NULL);
    ASSERT_TRUE(pem(AUTH_ALG_ES256, EC384_PUB, NULL) == NULL);           /* wrong curve */
    ASSERT_TRUE(pem(AUTH_ALG_ES256, EC_PUB, EC2_PRIV) == NULL);          /* not a pair */
    ASSERT_TRUE(pem(AUTH_ALG_RS256, RSA_PUB, EC_PRIV) == NULL);
    ASSERT_TRUE(pem(AUTH_ALG_RS256, RSA_PRIV, NULL) == NULL);            /* private as public */
    auth_jwt_free(NULL);
    ASSERT_EQ(auth_jwt_can_mint(NULL), 0);
}

/* What libjwt 1.10.2 does on its own -- the reasons auth_jwt.c checks the header itself. */
static void test_libjwt_quirks(void)
{
    jwt_t *j = NULL;
    /* It accepts an HS256 token whose HMAC key is the RS256 public key: key confusion. */
    ASSERT_EQ(jwt_decode(&j, CONFUSE_RS, (const unsigned char *)RSA_PUB, (int)strlen(RSA_PUB)), 0);
    ASSERT_EQ(jwt_get_alg(j), JWT_ALG_HS256);
    jwt_free(j);
    j = NULL;
    /* alg none with a key is refused (EINVAL), with or without a signature part... */
    ASSERT_EQ(jwt_decode(&j, NONE_EMPTY, (const unsigned char *)SECRET, (int)strlen(SECRET)), EINVAL);
    ASSERT_TRUE(j == NULL);
    ASSERT_EQ(jwt_decode(&j, NONE_SIG, (const unsigned char *)SECRET, (int)strlen(SECRET)), EINVAL);
    /* ...but accepted without a key, so a NULL key must never reach jwt_decode. */
    ASSERT_EQ(jwt_decode(&j, NONE_EMPTY, NULL, 0), 0);
    jwt_free(j);
    j = NULL;
    /* An empty signature and a bad one are the same EINVAL as a malformed token. */
    ASSERT_EQ(jwt_decode(&j, HS256_EMPTY_SIG, (const unsigned char *)SECRET, (int)strlen(SECRET)), EINVAL);
    ASSERT_EQ(jwt_decode(&j, TAMPER_SIG, (const unsigned char *)SECRET, (int)strlen(SECRET)), EINVAL);
    ASSERT_EQ(jwt_decode(&j, "x.y.z", (const unsigned char *)SECRET, (int)strlen(SECRET)), EINVAL);
}

/* ---- HS256 is checked without libjwt: it must agree with libjwt's jwt_decode ---- */

static void b64url(const unsigned char *in, size_t n, char *out)
{
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    uint32_t v = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        v = (v << 8) | in[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out[o++] = A[(v >> bits) & 63];
        }
    }
    if (bits) out[o++] = A[(v << (6 - bits)) & 63];
    out[o] = '\0';
}

/* header.payload.sig where sig is the HMAC-SHA256 under key, changed by how: 0 as is,
 * 1 first byte flipped, 2 last byte flipped, 3 one byte short, 4 one byte more. */
static void hs_token(char *out, const char *header, const char *payload, const char *key,
                     int how)
{
    b64url((const unsigned char *)header, strlen(header), out);
    strcat(out, ".");
    b64url((const unsigned char *)payload, strlen(payload), out + strlen(out));
    unsigned char mac[crypto_auth_hmacsha256_BYTES + 1];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)key, strlen(key));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)out, strlen(out));
    crypto_auth_hmacsha256_final(&st, mac);
    size_t n = crypto_auth_hmacsha256_BYTES;
    if (how == 1) mac[0] ^= 1;
    if (how == 2) mac[n - 1] ^= 0x80;
    if (how == 3) n--;
    if (how == 4) mac[n++] = 0;
    strcat(out, ".");
    b64url(mac, n, out + strlen(out));
}

/* "role": "admin" makes an admin; any other string is no role; a role that is not a string
 * is a malformed token. A minted admin token carries the claim back. */
static void test_role(void)
{
    auth_jwt_t *a = hs(0);
    static const struct {
        const char *payload;
        int rc, admin;
    } cases[] = {
        {"{\"sub\":\"u\",\"exp\":1800000000,\"role\":\"admin\"}", 0, 1},
        {"{\"sub\":\"u\",\"exp\":1800000000,\"role\":\"Admin\"}", 0, 0},
        {"{\"sub\":\"u\",\"exp\":1800000000,\"role\":\"user\"}", 0, 0},
        {"{\"sub\":\"u\",\"exp\":1800000000}", 0, 0},
        {"{\"sub\":\"u\",\"exp\":1800000000,\"role\":true}", AUTH_JWT_EMALFORMED, 0},
        {"{\"sub\":\"u\",\"exp\":1800000000,\"role\":[\"admin\"]}", AUTH_JWT_EMALFORMED, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char tok[1024];
        hs_token(tok, "{\"alg\":\"HS256\"}", cases[i].payload, SECRET, 0);
        auth_claims_t c;
        memset(&c, 0, sizeof(c));
        ASSERT_EQ(verify(a, tok, NOW, &c), cases[i].rc);
        if (cases[i].rc == 0) ASSERT_EQ(c.admin, cases[i].admin);
    }
    auth_claims_t in, out;
    memset(&in, 0, sizeof(in));
    strcpy(in.sub, "ops");
    in.admin = 1;
    char *tok = auth_jwt_mint(a, &in, NOW, 60);
    ASSERT_TRUE(tok != NULL);
    ASSERT_EQ(verify(a, tok, NOW, &out), 0);
    ASSERT_EQ(out.admin, 1);
    free(tok);
    in.admin = 0;
    tok = auth_jwt_mint(a, &in, NOW, 60);
    ASSERT_EQ(verify(a, tok, NOW, &out), 0);
    ASSERT_EQ(out.admin, 0);
    free(tok);
    auth_jwt_free(a);
}

static void test_hs256_agrees_with_libjwt(void)
{
    static const char *const headers[] = {
        "{\"alg\":\"HS256\"}",
        "{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
        "{\"typ\":\"jwt\",\"alg\":\"HS256\"}",
        "{\"alg\":\"HS256\",\"typ\":\"JwT\"}",
        "{\"alg\":\"HS256\",\"typ\":\"at+jwt\"}",
        "{\"alg\":\"HS256\",\"typ\":\"\"}",
        "{\"alg\":\"HS256\",\"typ\":\"JWT \"}",
        "{\"alg\":\"HS256\",\"typ\":5}",
        "{\"alg\":\"HS256\",\"typ\":null}",
        "{\"alg\":\"HS256\",\"typ\":true}",
        "{\"alg\":\"HS256\",\"typ\":{\"a\":\"JWT\"}}",
        "{\"alg\":\"HS256\",\"kid\":\"k-\u00e9\",\"x\":[1,2]}",
        " { \"alg\" : \"HS256\" } ",
    };
    static const char *const payloads[] = {
        "{\"sub\":\"u\",\"exp\":1800000000}",
        "{\"sub\":\"user-\u00fc\",\"name\":\"N\",\"color\":\"#AABBCC\",\"iat\":1600000000,"
        "\"exp\":1800000000,\"nbf\":1600000000,\"extra\":{\"deep\":[null]}}",
    };
    /* 64 bytes and more: HMAC hashes such keys first. */
    static const char *const keys[] = {
        SECRET,
        "a-long-secret-a-long-secret-a-long-secret-a-long-secret-a-long-secret-0123456789",
    };
    char tok[2048];
    for (size_t k = 0; k < CH_ARRAY_LEN(keys); k++) {
        auth_jwt_t *a = auth_jwt_new(AUTH_ALG_HS256, (const unsigned char *)keys[k],
                                     strlen(keys[k]), NULL, 0, 0);
        ASSERT_TRUE(a != NULL);
        for (size_t h = 0; h < CH_ARRAY_LEN(headers); h++) {
            for (size_t p = 0; p < CH_ARRAY_LEN(payloads); p++) {
                for (int how = 0; how <= 5; how++) {
                    /* how 5: signed with another key */
                    hs_token(tok, headers[h], payloads[p], how == 5 ? keys[!k] : keys[k],
                             how == 5 ? 0 : how);
                    jwt_t *j = NULL;
                    int lib = jwt_decode(&j, tok, (const unsigned char *)keys[k],
                                         (int)strlen(keys[k]));
                    jwt_free(j);
                    auth_claims_t c;
                    int ours = auth_jwt_verify(a, tok, strlen(tok), NOW, &c, NULL);
                    if ((lib == 0) != (ours == 0) || (ours && ours != AUTH_JWT_EBAD_SIGNATURE))
                        fprintf(stderr, "key %zu header %s payload %zu how %d: libjwt %d, ours %d\n",
                                k, headers[h], p, how, lib, ours);
                    ASSERT_EQ(lib == 0, ours == 0);
                    if (ours) ASSERT_EQ(ours, AUTH_JWT_EBAD_SIGNATURE);
                    ASSERT_EQ(ours == 0, how == 0 && !strstr(headers[h], "at+jwt") &&
                                             !strstr(headers[h], "\"typ\":\"\"") &&
                                             !strstr(headers[h], "JWT \""));
                }
            }
        }
        auth_jwt_free(a);
    }
}

int main(void)
{
    RUN(test_good);
    RUN(test_tampered);
    RUN(test_alg_none);
    RUN(test_alg_mismatch);
    RUN(test_expiry_and_leeway);
    RUN(test_malformed_claims);
    RUN(test_malformed_shape);
    RUN(test_mint_roundtrip);
    RUN(test_jti_and_epoch);
    RUN(test_role);
    RUN(test_jti_key);
    RUN(test_rs256);
    RUN(test_es256);
    RUN(test_asym_signature_lengths);
    RUN(test_new_rejects);
    RUN(test_libjwt_quirks);
    RUN(test_hs256_agrees_with_libjwt);
    TEST_MAIN_END();
}
