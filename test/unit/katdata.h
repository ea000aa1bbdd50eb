/*
 * katdata.h: known-answer vectors for AES-CTR and AES-GCM, as published.
 *
 *   kat_ctr  NIST SP 800-38A (2001), appendix F.5.1-F.5.6: CTR-AES128,
 *            -AES192 and -AES256, encrypt and decrypt. The initial
 *            counter block f0f1...feff is a 12-byte IV and the 32-bit
 *            big-endian counter 0xfcfdfeff in br_block_ctr_class terms
 *            (the four blocks never carry out of the low 32 bits).
 *   kat_gcm  McGrew and Viega, "The Galois/Counter Mode of Operation
 *            (GCM)", appendix B, test cases 1-18: AES-128 (1-6), AES-192
 *            (7-12), AES-256 (13-18); cases 5, 11, 17 have an 8-byte IV and
 *            6, 12, 18 a 60-byte IV (both go through GHASH to make the
 *            first counter block).
 *
 * Hex text, lower case; "" for an empty field. Decode with testdata_unhex().
 */
#ifndef HT_TEST_KATDATA_H
#define HT_TEST_KATDATA_H

struct kat_ctr {
	const char *name;
	const char *key;
	const char *counter; /* the 16-byte initial counter block */
	const char *in;      /* plaintext (encrypt) or ciphertext (decrypt) */
	const char *out;
};

#define KAT_CTR_PLAIN                                                                                        \
	"6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"                                   \
	"30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710"
#define KAT_CTR_COUNTER "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"
#define KAT_CTR_KEY128 "2b7e151628aed2a6abf7158809cf4f3c"
#define KAT_CTR_KEY192 "8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b"
#define KAT_CTR_KEY256 "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4"
#define KAT_CTR_CIPHER128                                                                                    \
	"874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff"                                   \
	"5ae4df3edbd5d35e5b4f09020db03eab1e031dda2fbe03d1792170a0f3009cee"
#define KAT_CTR_CIPHER192                                                                                    \
	"1abc932417521ca24f2b0459fe7e6e0b090339ec0aa6faefd5ccc2c6f4ce8e94"                                   \
	"1e36b26bd1ebc670d1bd1d665620abf74f78a7f6d29809585a97daec58c6b050"
#define KAT_CTR_CIPHER256                                                                                    \
	"601ec313775789a5b7a7f504bbf3d228f443e3ca4d62b59aca84e990cacaf5c5"                                   \
	"2b0930daa23de94ce87017ba2d84988ddfc9c58db67aada613c2dd08457941a6"

__attribute__((unused)) static const struct kat_ctr kat_ctr[] = {
	{ "F.5.1 CTR-AES128.Encrypt", KAT_CTR_KEY128, KAT_CTR_COUNTER, KAT_CTR_PLAIN, KAT_CTR_CIPHER128 },
	{ "F.5.2 CTR-AES128.Decrypt", KAT_CTR_KEY128, KAT_CTR_COUNTER, KAT_CTR_CIPHER128, KAT_CTR_PLAIN },
	{ "F.5.3 CTR-AES192.Encrypt", KAT_CTR_KEY192, KAT_CTR_COUNTER, KAT_CTR_PLAIN, KAT_CTR_CIPHER192 },
	{ "F.5.4 CTR-AES192.Decrypt", KAT_CTR_KEY192, KAT_CTR_COUNTER, KAT_CTR_CIPHER192, KAT_CTR_PLAIN },
	{ "F.5.5 CTR-AES256.Encrypt", KAT_CTR_KEY256, KAT_CTR_COUNTER, KAT_CTR_PLAIN, KAT_CTR_CIPHER256 },
	{ "F.5.6 CTR-AES256.Decrypt", KAT_CTR_KEY256, KAT_CTR_COUNTER, KAT_CTR_CIPHER256, KAT_CTR_PLAIN },
};

struct kat_gcm {
	int tc; /* test case number */
	const char *key;
	const char *iv;
	const char *aad;
	const char *pt;
	const char *ct;
	const char *tag;
};

#define KAT_GCM_K128 "feffe9928665731c6d6a8f9467308308"
#define KAT_GCM_K192 "feffe9928665731c6d6a8f9467308308feffe9928665731c"
#define KAT_GCM_K256 "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308"
#define KAT_GCM_IV96 "cafebabefacedbaddecaf888"
#define KAT_GCM_IV64 "cafebabefacedbad"
#define KAT_GCM_IV480                                                                                        \
	"9313225df88406e555909c5aff5269aa6a7a9538534f7da1e4c303d2a318a728"                                   \
	"c3c0c95156809539fcf0e2429a6b525416aedbf5a0de6a57a637b39b"
#define KAT_GCM_AAD "feedfacedeadbeeffeedfacedeadbeefabaddad2"
#define KAT_GCM_P64                                                                                          \
	"d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"                                   \
	"1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255"
#define KAT_GCM_P60                                                                                          \
	"d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"                                   \
	"1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39"
#define KAT_GCM_Z128 "00000000000000000000000000000000"
#define KAT_GCM_Z192 "000000000000000000000000000000000000000000000000"
#define KAT_GCM_Z256 "0000000000000000000000000000000000000000000000000000000000000000"
#define KAT_GCM_ZIV "000000000000000000000000"

__attribute__((unused)) static const struct kat_gcm kat_gcm[] = {
	{ 1, KAT_GCM_Z128, KAT_GCM_ZIV, "", "", "", "58e2fccefa7e3061367f1d57a4e7455a" },
	{ 2, KAT_GCM_Z128, KAT_GCM_ZIV, "", KAT_GCM_Z128, "0388dace60b6a392f328c2b971b2fe78",
	  "ab6e47d42cec13bdf53a67b21257bddf" },
	{ 3, KAT_GCM_K128, KAT_GCM_IV96, "", KAT_GCM_P64,
	  "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
	  "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985",
	  "4d5c2af327cd64a62cf35abd2ba6fab4" },
	{ 4, KAT_GCM_K128, KAT_GCM_IV96, KAT_GCM_AAD, KAT_GCM_P60,
	  "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
	  "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
	  "5bc94fbc3221a5db94fae95ae7121a47" },
	{ 5, KAT_GCM_K128, KAT_GCM_IV64, KAT_GCM_AAD, KAT_GCM_P60,
	  "61353b4c2806934a777ff51fa22a4755699b2a714fcdc6f83766e5f97b6c7423"
	  "73806900e49f24b22b097544d4896b424989b5e1ebac0f07c23f4598",
	  "3612d2e79e3b0785561be14aaca2fccb" },
	{ 6, KAT_GCM_K128, KAT_GCM_IV480, KAT_GCM_AAD, KAT_GCM_P60,
	  "8ce24998625615b603a033aca13fb894be9112a5c3a211a8ba262a3cca7e2ca7"
	  "01e4a9a4fba43c90ccdcb281d48c7c6fd62875d2aca417034c34aee5",
	  "619cc5aefffe0bfa462af43c1699d050" },
	{ 7, KAT_GCM_Z192, KAT_GCM_ZIV, "", "", "", "cd33b28ac773f74ba00ed1f312572435" },
	{ 8, KAT_GCM_Z192, KAT_GCM_ZIV, "", KAT_GCM_Z128, "98e7247c07f0fe411c267e4384b0f600",
	  "2ff58d80033927ab8ef4d4587514f0fb" },
	{ 9, KAT_GCM_K192, KAT_GCM_IV96, "", KAT_GCM_P64,
	  "3980ca0b3c00e841eb06fac4872a2757859e1ceaa6efd984628593b40ca1e19c"
	  "7d773d00c144c525ac619d18c84a3f4718e2448b2fe324d9ccda2710acade256",
	  "9924a7c8587336bfb118024db8674a14" },
	{ 10, KAT_GCM_K192, KAT_GCM_IV96, KAT_GCM_AAD, KAT_GCM_P60,
	  "3980ca0b3c00e841eb06fac4872a2757859e1ceaa6efd984628593b40ca1e19c"
	  "7d773d00c144c525ac619d18c84a3f4718e2448b2fe324d9ccda2710",
	  "2519498e80f1478f37ba55bd6d27618c" },
	{ 11, KAT_GCM_K192, KAT_GCM_IV64, KAT_GCM_AAD, KAT_GCM_P60,
	  "0f10f599ae14a154ed24b36e25324db8c566632ef2bbb34f8347280fc4507057"
	  "fddc29df9a471f75c66541d4d4dad1c9e93a19a58e8b473fa0f062f7",
	  "65dcc57fcf623a24094fcca40d3533f8" },
	{ 12, KAT_GCM_K192, KAT_GCM_IV480, KAT_GCM_AAD, KAT_GCM_P60,
	  "d27e88681ce3243c4830165a8fdcf9ff1de9a1d8e6b447ef6ef7b79828666e45"
	  "81e79012af34ddd9e2f037589b292db3e67c036745fa22e7e9b7373b",
	  "dcf566ff291c25bbb8568fc3d376a6d9" },
	{ 13, KAT_GCM_Z256, KAT_GCM_ZIV, "", "", "", "530f8afbc74536b9a963b4f1c4cb738b" },
	{ 14, KAT_GCM_Z256, KAT_GCM_ZIV, "", KAT_GCM_Z128, "cea7403d4d606b6e074ec5d3baf39d18",
	  "d0d1c8a799996bf0265b98b5d48ab919" },
	{ 15, KAT_GCM_K256, KAT_GCM_IV96, "", KAT_GCM_P64,
	  "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
	  "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
	  "b094dac5d93471bdec1a502270e3cc6c" },
	{ 16, KAT_GCM_K256, KAT_GCM_IV96, KAT_GCM_AAD, KAT_GCM_P60,
	  "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
	  "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
	  "76fc6ece0f4e1768cddf8853bb2d551b" },
	{ 17, KAT_GCM_K256, KAT_GCM_IV64, KAT_GCM_AAD, KAT_GCM_P60,
	  "c3762df1ca787d32ae47c13bf19844cbaf1ae14d0b976afac52ff7d79bba9de0"
	  "feb582d33934a4f0954cc2363bc73f7862ac430e64abe499f47c9b1f",
	  "3a337dbf46a792c45e454913fe2ea8f2" },
	{ 18, KAT_GCM_K256, KAT_GCM_IV480, KAT_GCM_AAD, KAT_GCM_P60,
	  "5a8def2f0c9e53f1f75d7853659e2a20eeb2b22aafde6419a058ab4f6f746bf4"
	  "0fc0c3b780f244452da3ebf1c5d82cdea2418997200ef82e44ae7e3f",
	  "a44a8266ee1c8eb0c8b5d4cf5ae9f19a" },
};

#endif
